-- get_cron_job_by_name: one schedule by its unique name.
-- :schedule_name
SELECT * FROM cron_schedules WHERE schedule_name = :schedule_name
