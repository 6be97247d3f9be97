-- Mapped tasks (see src/mapping.rs): an instance of a mapped task is a row of its own under the
-- id `task[index]`, at the mapped task's position, with its index; the mapped task's row holds
-- how many instances it has while `waiting_on` counts those not finished.
ALTER TABLE task_executions ADD COLUMN map_index INTEGER;
ALTER TABLE task_executions ADD COLUMN map_count INTEGER;
