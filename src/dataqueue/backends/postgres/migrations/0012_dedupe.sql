-- 0012_dedupe: the dedupe key a job was added with (dedupe_key), and one
-- record per key naming the job that holds it and when the hold ends
-- (expires_at; NULL: when the job finishes). A record whose job was
-- cleaned up holds nothing (readers join the job on id and dedupe_key), and
-- the next add with that key takes it over.
-- Formatted with the schema identifier; no parameters.

ALTER TABLE {schema}.job_queue ADD COLUMN dedupe_key TEXT;

CREATE TABLE {schema}.dedupe_keys (
    key TEXT PRIMARY KEY,
    job_id BIGINT NOT NULL,
    expires_at TIMESTAMPTZ
);
