-- The workflow's graph as an execution was created with it (see `Workflow::dependency_listing`):
-- a JSON object from each task id to its dependencies' ids, so that a reader draws it without
-- the definition. Empty for executions created before.
ALTER TABLE executions ADD COLUMN workflow_graph TEXT NOT NULL DEFAULT '';
