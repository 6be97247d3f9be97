-- Cron schedules (see src/schedules/): each tick starts one execution of the schedule's
-- workflow, under a key made of the schedule's name and the tick. `next_fire_at` is the first
-- tick not yet handled, in microseconds since the Unix epoch.
CREATE TABLE schedules (
    name TEXT PRIMARY KEY NOT NULL,
    workflow_name TEXT NOT NULL,
    cron TEXT NOT NULL,
    timezone TEXT NOT NULL,
    context TEXT NOT NULL,
    catchup TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    next_fire_at BIGINT NOT NULL,
    last_fired_at BIGINT,
    last_execution_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE paused = 0;
