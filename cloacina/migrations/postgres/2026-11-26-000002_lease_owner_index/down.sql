DROP INDEX task_executions_by_owner;
