-- cancel_job: a pending or waiting job becomes cancelled; records a
-- 'cancelled' event. Its tokens still waiting become timed_out.
-- Parameters: job_id, now. Returns how many jobs changed (0 or 1).
WITH cancelled AS (
    UPDATE {schema}.job_queue
    SET status = 'cancelled',
        last_cancelled_at = %(now)s::timestamptz,
        locked_by = NULL,
        locked_at = NULL,
        updated_at = %(now)s::timestamptz
    WHERE id = %(job_id)s::bigint AND status IN ('pending', 'waiting')
    RETURNING id
),
expired AS (
    UPDATE {schema}.waitpoints
    SET status = 'timed_out', completed_at = %(now)s::timestamptz
    WHERE job_id IN (SELECT id FROM cancelled) AND status = 'waiting'
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'cancelled', %(now)s::timestamptz, jsonb_build_object() FROM cancelled
)
SELECT count(*) AS n FROM cancelled
