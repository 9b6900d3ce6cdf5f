-- list_cron_jobs: every schedule, or those with one status, oldest first.
-- :status ('active', 'paused' or NULL for all)
SELECT * FROM cron_schedules
WHERE :status IS NULL OR status = :status
ORDER BY id
