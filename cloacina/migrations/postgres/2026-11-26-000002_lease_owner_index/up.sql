CREATE INDEX task_executions_by_owner ON task_executions (lease_owner) WHERE status = 'Running';
