ALTER TABLE executions DROP COLUMN workflow_graph;
