DROP INDEX execution_events_in_order;
CREATE INDEX execution_events_by_execution ON execution_events (execution_id, id);
ALTER TABLE execution_events DROP COLUMN sequence;
ALTER TABLE executions DROP COLUMN event_count;
