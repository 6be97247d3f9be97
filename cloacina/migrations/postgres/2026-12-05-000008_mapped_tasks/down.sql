ALTER TABLE task_executions DROP COLUMN map_count;
ALTER TABLE task_executions DROP COLUMN map_index;
