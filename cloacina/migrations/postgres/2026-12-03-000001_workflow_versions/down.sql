ALTER TABLE executions DROP COLUMN workflow_shape;
ALTER TABLE task_executions DROP COLUMN workflow_version;
