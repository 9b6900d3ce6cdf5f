-- remove_cron_job: delete a schedule; the jobs it enqueued stay, keeping its
-- id in cron_job_id. Returns the id when a schedule was deleted.
-- :id
DELETE FROM cron_schedules WHERE id = :id RETURNING id
