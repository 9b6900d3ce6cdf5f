-- resume_cron_job: a paused schedule becomes active again from its next run
-- after now (computed in Python), so the runs missed while paused are not
-- enqueued. The expected expression and timezone guard against an edit that
-- landed between the read that computed next_run_at and this write.
-- Parameters: id, next_run_at, expected_expression, expected_timezone, now.
-- Returns the id when it changed.
UPDATE {schema}.cron_schedules
SET status = 'active',
    next_run_at = %(next_run_at)s::timestamptz,
    updated_at = %(now)s::timestamptz
WHERE id = %(id)s::bigint
    AND status = 'paused'
    AND cron_expression = %(expected_expression)s::text
    AND timezone = %(expected_timezone)s::text
RETURNING id
