-- complete_job: a job still held by the worker becomes completed with its
-- output; records a 'completed' event with the given metadata.
-- Parameters: job_id, worker_id, output (JSON), metadata (JSON), now.
-- Returns how many jobs changed (0 when the lock was lost).
WITH completed AS (
    UPDATE {schema}.job_queue
    SET status = 'completed',
        completed_at = %(now)s::timestamptz,
        output = %(output)s::jsonb,
        locked_by = NULL,
        locked_at = NULL,
        updated_at = %(now)s::timestamptz
    WHERE id = %(job_id)s::bigint
        AND status = 'processing'
        AND locked_by = %(worker_id)s::text
    RETURNING id
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'completed', %(now)s::timestamptz, %(metadata)s::jsonb FROM completed
)
SELECT count(*) AS n FROM completed
