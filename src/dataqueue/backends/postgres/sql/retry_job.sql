-- retry_job: a failed or processing job goes back to pending, unlocked,
-- with no scheduled retry; records a 'retried' event.
-- Parameters: job_id, now. Returns how many jobs changed (0 or 1).
WITH retried AS (
    UPDATE {schema}.job_queue
    SET status = 'pending',
        next_attempt_at = NULL,
        locked_by = NULL,
        locked_at = NULL,
        last_retried_at = %(now)s::timestamptz,
        updated_at = %(now)s::timestamptz
    WHERE id = %(job_id)s::bigint AND status IN ('failed', 'processing')
    RETURNING id
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'retried', %(now)s::timestamptz, jsonb_build_object() FROM retried
)
SELECT count(*) AS n FROM retried
