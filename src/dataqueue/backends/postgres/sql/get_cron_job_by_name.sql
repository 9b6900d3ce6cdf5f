-- get_cron_job_by_name: one schedule by its unique name.
-- Parameters: schedule_name.
SELECT * FROM {schema}.cron_schedules WHERE schedule_name = %(schedule_name)s::text
