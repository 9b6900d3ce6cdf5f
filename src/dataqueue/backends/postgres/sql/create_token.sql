-- create_token: a new waiting token for a job still held under the lease,
-- stored with the attempt's step_data that records it, in one statement:
-- the token exists exactly when the attempt's record of it does.
-- Parameters: job_id, token, step_data (JSON text), token_id, timeout_at
-- (NULL: never times out), tags (text[]), now.
-- Returns how many tokens were created (0 when the lease was lost).
WITH held AS (
    UPDATE {schema}.job_queue
    SET step_data = %(step_data)s::json, updated_at = %(now)s::timestamptz
    WHERE id = %(job_id)s::bigint
        AND status = 'processing'
        AND lease_token = %(token)s::text
    RETURNING id
),
created AS (
    INSERT INTO {schema}.waitpoints (id, job_id, status, timeout_at, created_at, tags)
    SELECT %(token_id)s::text, id, 'waiting', %(timeout_at)s::timestamptz,
        %(now)s::timestamptz, %(tags)s::text[]
    FROM held
    RETURNING id
)
SELECT count(*) AS n FROM created
