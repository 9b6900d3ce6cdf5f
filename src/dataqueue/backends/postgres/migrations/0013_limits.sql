-- 0013_limits: flow control. A job's group key (group_id, set at add); the
-- stored limits and pauses per job type ('*': the pause of every type); the
-- rate limits' token buckets (group_id '' for a type's own bucket), each
-- holding `tokens` at `updated_at` (a missing bucket is full). A claim that
-- limits apply to locks the limits rows of its types (FOR UPDATE), which
-- serialises it with every other such claim, then counts what runs per type
-- and group from the partial index below (only processing jobs).
-- Formatted with the schema identifier; no parameters.

ALTER TABLE {schema}.job_queue ADD COLUMN group_id TEXT;

CREATE INDEX job_queue_running_idx ON {schema}.job_queue (job_type, group_id)
    WHERE status = 'processing';

CREATE TABLE {schema}.job_limits (
    job_type TEXT PRIMARY KEY,
    concurrency INTEGER,
    rate_count INTEGER,
    rate_per DOUBLE PRECISION,
    group_concurrency INTEGER,
    group_rate_count INTEGER,
    group_rate_per DOUBLE PRECISION,
    paused BOOLEAN NOT NULL DEFAULT false,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE {schema}.limit_buckets (
    job_type TEXT NOT NULL,
    group_id TEXT NOT NULL,
    tokens DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (job_type, group_id)
);
