-- pause_cron_job: an active schedule stops enqueueing.
-- Parameters: id, now. Returns the id when it changed.
UPDATE {schema}.cron_schedules
SET status = 'paused', updated_at = %(now)s::timestamptz
WHERE id = %(id)s::bigint AND status = 'active'
RETURNING id
