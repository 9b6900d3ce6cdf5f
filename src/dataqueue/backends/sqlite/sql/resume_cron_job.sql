-- resume_cron_job: a paused schedule becomes active again from its next run
-- after now (computed in Python), so runs missed while paused are not
-- enqueued. The expected expression and timezone guard against an edit made
-- between the read that computed next_run_at and this write.
-- Returns the id when it changed.
-- :id :next_run_at :expected_expression :expected_timezone :now
UPDATE cron_schedules
SET status = 'active', next_run_at = :next_run_at, updated_at = :now
WHERE id = :id
    AND status = 'paused'
    AND cron_expression = :expected_expression
    AND timezone = :expected_timezone
RETURNING id
