-- cancel_job: a pending or waiting job becomes cancelled; records a
-- 'cancelled' event.
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
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'cancelled', %(now)s::timestamptz, jsonb_build_object() FROM cancelled
)
SELECT count(*) AS n FROM cancelled
