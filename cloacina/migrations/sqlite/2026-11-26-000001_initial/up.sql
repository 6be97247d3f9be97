-- Executions, their tasks, the tasks' outputs (context deltas) and the event log.
-- Times are microseconds since the Unix epoch (UTC).

CREATE TABLE executions (
    id TEXT PRIMARY KEY NOT NULL,
    workflow_name TEXT NOT NULL,
    workflow_version TEXT NOT NULL,
    status TEXT NOT NULL,
    context TEXT NOT NULL,
    error TEXT,
    remaining_tasks INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX executions_by_created ON executions (created_at);
CREATE INDEX executions_by_workflow ON executions (workflow_name, created_at);
CREATE INDEX executions_unfinished ON executions (status) WHERE status IN ('Pending', 'Running');

CREATE TABLE task_executions (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    workflow_name TEXT NOT NULL,
    status TEXT NOT NULL,
    waiting_on INTEGER NOT NULL,
    failed_dependencies INTEGER NOT NULL DEFAULT 0,
    skipped_dependencies INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    ready_at BIGINT,
    retry_at BIGINT,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    recoveries INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    started_at BIGINT,
    finished_at BIGINT,
    PRIMARY KEY (execution_id, task_id)
);
CREATE INDEX task_executions_ready ON task_executions (ready_at) WHERE status = 'Ready';
CREATE INDEX task_executions_leased ON task_executions (lease_expires_at) WHERE status = 'Running';

CREATE TABLE task_outputs (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    delta TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (execution_id, task_id)
);

CREATE TABLE execution_events (
    id INTEGER PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    task_id TEXT,
    kind TEXT NOT NULL,
    attempt INTEGER,
    message TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX execution_events_by_execution ON execution_events (execution_id, id);
