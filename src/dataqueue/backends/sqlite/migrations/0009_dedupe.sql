-- 0009_dedupe: the dedupe key a job was added with (dedupe_key), and one
-- record per key naming the job that holds it and when the hold ends
-- (expires_at, epoch microseconds; NULL: when the job finishes). A record
-- whose job is gone (cleaned up) holds nothing: readers join the job on
-- both its id and its dedupe_key. Applied inside BEGIN IMMEDIATE.

ALTER TABLE job_queue ADD COLUMN dedupe_key TEXT;

CREATE TABLE dedupe_keys (
    key TEXT PRIMARY KEY,
    job_id INTEGER NOT NULL,
    expires_at INTEGER
);
