-- get_cron_job: one schedule by id.
-- :id
SELECT * FROM cron_schedules WHERE id = :id
