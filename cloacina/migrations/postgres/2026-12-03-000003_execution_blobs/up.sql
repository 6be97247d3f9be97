-- Binary data of context values too large to keep in the JSON (see src/blobs.rs), stored once
-- per execution under its SHA-256 digest.
CREATE TABLE execution_blobs (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (execution_id, digest)
);
-- The data is written once and read whole: no compression to spend time on.
ALTER TABLE execution_blobs ALTER COLUMN data SET STORAGE EXTERNAL;
