DROP INDEX task_executions_by_concurrency_key;
ALTER TABLE task_executions DROP COLUMN concurrency_limit;
ALTER TABLE task_executions DROP COLUMN concurrency_key;
