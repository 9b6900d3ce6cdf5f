-- 0003_cron: what cron schedules need beyond the cron_schedules table of
-- 0001: each job remembers the schedule and the due time (microseconds) it
-- was enqueued for, and a schedule counts the due times that enqueued no job
-- of their own. The index serves the overlap check made when a due time is
-- claimed. Applied inside BEGIN IMMEDIATE.

ALTER TABLE job_queue ADD COLUMN cron_job_id INTEGER;
ALTER TABLE job_queue ADD COLUMN cron_due_at INTEGER;

CREATE INDEX job_queue_cron ON job_queue (cron_job_id, status)
    WHERE cron_job_id IS NOT NULL;

ALTER TABLE cron_schedules ADD COLUMN skipped_runs INTEGER NOT NULL DEFAULT 0;
