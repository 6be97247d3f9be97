-- Each execution numbers its events 1, 2, 3, ... in the order they commit: a transaction takes
-- the next numbers from its execution's row (which it then holds until it commits), so a
-- reader paging through an execution's events by number never skips one committed late.
ALTER TABLE executions ADD COLUMN event_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE execution_events ADD COLUMN sequence BIGINT NOT NULL DEFAULT 0;
UPDATE execution_events SET sequence = numbered.position
FROM (SELECT id, row_number() OVER (PARTITION BY execution_id ORDER BY id) AS position FROM execution_events) AS numbered
WHERE execution_events.id = numbered.id;
UPDATE executions SET event_count = (SELECT count(*) FROM execution_events WHERE execution_id = executions.id);
DROP INDEX execution_events_by_execution;
CREATE UNIQUE INDEX execution_events_in_order ON execution_events (execution_id, sequence);
