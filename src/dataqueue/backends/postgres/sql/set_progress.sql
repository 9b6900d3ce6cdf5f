-- set_progress: store the progress percentage of a job still held under
-- the lease.
-- Parameters: job_id, token, progress (0 to 100), now.
-- Returns how many jobs changed (0 when the lease was lost).
WITH updated AS (
    UPDATE {schema}.job_queue
    SET progress = %(progress)s::smallint, updated_at = %(now)s::timestamptz
    WHERE id = %(job_id)s::bigint
        AND status = 'processing'
        AND lease_token = %(token)s::text
    RETURNING id
)
SELECT count(*) AS n FROM updated
