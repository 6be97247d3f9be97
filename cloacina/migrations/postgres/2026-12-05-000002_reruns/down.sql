ALTER TABLE executions DROP COLUMN rerun_of;
