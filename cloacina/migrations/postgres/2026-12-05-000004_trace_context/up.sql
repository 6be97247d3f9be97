-- The trace context (W3C `traceparent`/`tracestate`, as JSON) of the span an execution was
-- started in, so that its attempts, run by any process, join that trace. NULL when the
-- starting process traced nothing.
ALTER TABLE executions ADD COLUMN trace_context TEXT;
