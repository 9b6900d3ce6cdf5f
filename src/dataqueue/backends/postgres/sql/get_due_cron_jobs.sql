-- get_due_cron_jobs: active schedules whose next run has come, earliest
-- first. Run before every claim, so it must stay cheap when nothing is due:
-- it reads the partial index cron_schedules_due_idx only.
-- Parameters: now.
SELECT *
FROM {schema}.cron_schedules
WHERE status = 'active' AND next_run_at <= %(now)s::timestamptz
ORDER BY next_run_at, id
