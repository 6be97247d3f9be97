-- What a task logged during an attempt (see src/logs.rs): one row per attempt that logged
-- anything, written with the attempt's end; `records` is a JSON array of records.
CREATE TABLE task_logs (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    records TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX task_logs_by_task ON task_logs (execution_id, task_id, attempt);
