-- 0013_cron_dead_letters: a schedule's dead_letter_job_type, copied onto
-- every job it enqueues (upstream's CronScheduleOptions.deadLetterJobType).
-- Applied inside BEGIN IMMEDIATE.

ALTER TABLE cron_schedules ADD COLUMN dead_letter_job_type TEXT;
