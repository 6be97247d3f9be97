-- A re-run (see src/executor/rerun.rs) names the execution it came from: it keeps that
-- execution's completed outputs and runs only what did not complete.
ALTER TABLE executions ADD COLUMN rerun_of TEXT;
