DROP TABLE execution_blobs;
