-- retry_job: a failed or cancelled job goes back to pending, due now (an
-- earlier run_at is kept, so it keeps its place in line), with no scheduled
-- retry; records a 'retried' event. A processing job is left
-- alone: its worker may still be running it.
-- Parameters: job_id, statuses (text[]: failed, cancelled), metadata (JSON
-- text), now. Returns how many jobs changed (0 or 1).
WITH retried AS (
    UPDATE {schema}.job_queue
    SET status = 'pending',
        run_at = least(run_at, %(now)s::timestamptz),
        next_attempt_at = NULL,
        locked_by = NULL,
        locked_at = NULL,
        lease_token = NULL,
        last_retried_at = %(now)s::timestamptz,
        updated_at = %(now)s::timestamptz
    WHERE id = %(job_id)s::bigint AND status = ANY (%(statuses)s::text[])
    RETURNING id
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'retried', %(now)s::timestamptz, %(metadata)s::jsonb FROM retried
)
SELECT count(*) AS n FROM retried
