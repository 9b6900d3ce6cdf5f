-- 0010_worker_stats: what the dashboard's overview and workers page read.
-- * workers: each worker's counts since it started (sent with its
--   heartbeats) and whether it was asked to stop taking jobs.
-- * minute_stats: per minute and job type, what the workers reported:
--   attempts started, completed and failed, first starts and the sum of
--   their delays from due to start. Workers add to these rows with their
--   heartbeats (never per job), and rows older than a day are dropped as
--   they go, so the table stays at most a day of minutes times job types.
-- Formatted with the schema identifier; no parameters.

ALTER TABLE {schema}.workers
    ADD COLUMN processed BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN failed BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN quiet BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE {schema}.minute_stats (
    minute TIMESTAMPTZ NOT NULL,
    job_type TEXT NOT NULL,
    started BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    first_starts BIGINT NOT NULL,
    start_delay_seconds DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (minute, job_type)
);
