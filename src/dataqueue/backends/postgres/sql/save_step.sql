-- save_step: store a running attempt's step results (the job's whole
-- step_data, as the attempt holds it) while its lease holds; a lost lease
-- changes nothing.
-- Parameters: job_id, token, step_data (JSON text), now.
-- Returns how many jobs changed (0 when the lease was lost).
WITH saved AS (
    UPDATE {schema}.job_queue
    SET step_data = %(step_data)s::json, updated_at = %(now)s::timestamptz
    WHERE id = %(job_id)s::bigint
        AND status = 'processing'
        AND lease_token = %(token)s::text
    RETURNING id
)
SELECT count(*) AS n FROM saved
