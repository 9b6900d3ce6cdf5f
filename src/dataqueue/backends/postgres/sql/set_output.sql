-- set_output: store the output of a job still held under the lease
-- (ctx.set_output; its completion writes the same value again).
-- Parameters: job_id, token, output (JSON text), now.
-- Returns how many jobs changed (0 when the lease was lost).
WITH updated AS (
    UPDATE {schema}.job_queue
    SET output = %(output)s::json, updated_at = %(now)s::timestamptz
    WHERE id = %(job_id)s::bigint
        AND status = 'processing'
        AND lease_token = %(token)s::text
    RETURNING id
)
SELECT count(*) AS n FROM updated
