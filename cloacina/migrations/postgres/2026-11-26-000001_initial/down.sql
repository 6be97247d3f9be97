DROP TABLE execution_events;
DROP TABLE task_outputs;
DROP TABLE task_executions;
DROP TABLE executions;
