DROP TABLE task_logs;
