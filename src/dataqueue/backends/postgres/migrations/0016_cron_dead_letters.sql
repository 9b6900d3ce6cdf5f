-- 0016_cron_dead_letters: a schedule's dead_letter_job_type, copied onto
-- every job it enqueues (upstream's CronScheduleOptions.deadLetterJobType).
-- Formatted with the schema identifier; no parameters.

ALTER TABLE {schema}.cron_schedules ADD COLUMN dead_letter_job_type TEXT;
