-- Listing executions a page at a time (see src/store/listing.rs): newest first by (created_at,
-- id), after a cursor. Each filter has an index in that order, so a page reads only its rows
-- however many executions came before it.
DROP INDEX executions_by_created;
DROP INDEX executions_by_workflow;
CREATE INDEX executions_by_created ON executions (created_at, id);
CREATE INDEX executions_by_workflow ON executions (workflow_name, created_at, id);
CREATE INDEX executions_by_status ON executions (status, created_at, id);
