-- Concurrency limits (see src/concurrency.rs): a task created with a limit carries its key and
-- how many attempts holding the key may run at once; claims count the running ones by key.
ALTER TABLE task_executions ADD COLUMN concurrency_key TEXT;
ALTER TABLE task_executions ADD COLUMN concurrency_limit INTEGER;
CREATE INDEX task_executions_by_concurrency_key ON task_executions (concurrency_key)
    WHERE concurrency_key IS NOT NULL;
