ALTER TABLE executions DROP COLUMN trace_context;
