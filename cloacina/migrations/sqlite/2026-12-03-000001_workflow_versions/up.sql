-- Each task names the workflow version its execution was created with: a worker runs it with
-- that version's definition, or one of the same shape, and otherwise fails the execution
-- naming both versions (never leaving it to wait for a definition nobody has).
ALTER TABLE task_executions ADD COLUMN workflow_version TEXT NOT NULL DEFAULT '';
UPDATE task_executions SET workflow_version =
    (SELECT workflow_version FROM executions WHERE executions.id = task_executions.execution_id);
-- The shape of the workflow an execution was created with (task ids and dependencies).
ALTER TABLE executions ADD COLUMN workflow_shape TEXT NOT NULL DEFAULT '';
