-- prolong_job: refresh the lock of a job still held by the worker, so
-- reclaim_stuck_jobs leaves it alone; records a 'prolonged' event.
-- Parameters: job_id, worker_id, timeout (seconds), now.
WITH prolonged AS (
    UPDATE {schema}.job_queue
    SET locked_at = %(now)s::timestamptz, updated_at = %(now)s::timestamptz
    WHERE id = %(job_id)s::bigint
        AND status = 'processing'
        AND locked_by = %(worker_id)s::text
    RETURNING id
)
INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
SELECT id, 'prolonged', %(now)s::timestamptz,
    jsonb_build_object('timeout', %(timeout)s::double precision)
FROM prolonged
