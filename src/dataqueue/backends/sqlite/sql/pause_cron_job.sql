-- pause_cron_job: an active schedule stops enqueueing.
-- Returns the id when it changed.
-- :id :now
UPDATE cron_schedules SET status = 'paused', updated_at = :now
WHERE id = :id AND status = 'active'
RETURNING id
