-- An execution may be started under a key (see src/executor/keys.rs): a workflow has at most
-- one execution per key, so that starting "the run for order 123" twice, from any processes,
-- starts it once.
ALTER TABLE executions ADD COLUMN execution_key TEXT;
CREATE UNIQUE INDEX executions_by_key ON executions (workflow_name, execution_key) WHERE execution_key IS NOT NULL;
