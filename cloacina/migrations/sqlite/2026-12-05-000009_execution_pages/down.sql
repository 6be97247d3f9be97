DROP INDEX executions_by_status;
DROP INDEX executions_by_workflow;
DROP INDEX executions_by_created;
CREATE INDEX executions_by_created ON executions (created_at);
CREATE INDEX executions_by_workflow ON executions (workflow_name, created_at);
