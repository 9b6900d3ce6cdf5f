-- list_cron_jobs: every schedule, or those with one status, oldest first.
-- Parameters: status ('active', 'paused' or NULL for all).
SELECT *
FROM {schema}.cron_schedules
WHERE %(status)s::text IS NULL OR status = %(status)s::text
ORDER BY id
