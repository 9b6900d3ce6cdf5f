-- get_due_cron_jobs: active schedules whose next run has come, earliest
-- first. Run before every claim, so it reads only the partial index
-- cron_schedules_due.
-- :now
SELECT * FROM cron_schedules
WHERE status = 'active' AND next_run_at <= :now
ORDER BY next_run_at, id
