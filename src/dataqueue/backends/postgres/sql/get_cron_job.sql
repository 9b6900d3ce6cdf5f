-- get_cron_job: one schedule by id.
-- Parameters: id.
SELECT * FROM {schema}.cron_schedules WHERE id = %(id)s::bigint
