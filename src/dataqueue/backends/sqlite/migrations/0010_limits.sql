-- 0010_limits: flow control. A job's group key (group_id, set at add); the
-- stored limits and pauses per job type ('*': the pause of every type); the
-- rate limits' token buckets (group_id '' for a type's own bucket), each
-- holding `tokens` at `updated_at` (a missing bucket is full). The partial
-- index counts what runs per type and group without reading other jobs.
-- Applied inside BEGIN IMMEDIATE.

ALTER TABLE job_queue ADD COLUMN group_id TEXT;

CREATE INDEX job_queue_running ON job_queue (job_type, group_id)
    WHERE status = 'processing';

CREATE TABLE job_limits (
    job_type TEXT PRIMARY KEY,
    concurrency INTEGER,
    rate_count INTEGER,
    rate_per REAL,
    group_concurrency INTEGER,
    group_rate_count INTEGER,
    group_rate_per REAL,
    paused INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);

CREATE TABLE limit_buckets (
    job_type TEXT NOT NULL,
    group_id TEXT NOT NULL,
    tokens REAL NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (job_type, group_id)
);
