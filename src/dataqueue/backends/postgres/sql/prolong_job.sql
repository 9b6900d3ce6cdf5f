-- prolong_job: refresh the lock of a job still held under the lease, so
-- reclaim_stuck_jobs leaves it alone; records a 'prolonged' event.
-- Parameters: job_id, token, metadata (the event's, JSON text), now.
-- Returns how many jobs changed (0 when the lease was lost).
WITH prolonged AS (
    UPDATE {schema}.job_queue
    SET locked_at = %(now)s::timestamptz, updated_at = %(now)s::timestamptz
    WHERE id = %(job_id)s::bigint
        AND status = 'processing'
        AND lease_token = %(token)s::text
    RETURNING id
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'prolonged', %(now)s::timestamptz,
        %(metadata)s::jsonb
    FROM prolonged
)
SELECT count(*) AS n FROM prolonged
