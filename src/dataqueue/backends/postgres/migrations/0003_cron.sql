-- 0003_cron: what cron schedules need beyond the cron_schedules table of
-- 0001: each job remembers the schedule and the due time it was enqueued
-- for, and a schedule counts the due times that enqueued no job of their own.
-- The index serves the overlap check ("is an instance of this schedule still
-- pending, processing or waiting?") made when a due time is claimed. A
-- schedule's payload becomes json, as the jobs' did in 0002, so that the
-- jobs it enqueues get exactly the payload it was given.
-- Formatted with the schema identifier; no parameters.

ALTER TABLE {schema}.job_queue
    ADD COLUMN cron_job_id BIGINT,
    ADD COLUMN cron_due_at TIMESTAMPTZ;

CREATE INDEX job_queue_cron_idx ON {schema}.job_queue (cron_job_id, status)
    WHERE cron_job_id IS NOT NULL;

ALTER TABLE {schema}.cron_schedules
    ADD COLUMN skipped_runs BIGINT NOT NULL DEFAULT 0,
    ALTER COLUMN payload TYPE JSON USING payload::json;
