DROP INDEX executions_by_key;
ALTER TABLE executions DROP COLUMN execution_key;
