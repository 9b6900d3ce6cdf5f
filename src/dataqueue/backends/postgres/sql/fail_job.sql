-- fail_job: a job still held by the worker becomes failed; the error is
-- appended to error_history and the next attempt (or NULL: none) is set.
-- Records a 'failed' event.
-- Parameters: job_id, worker_id, message, failure_reason, next_attempt_at,
-- now, now_iso and next_attempt_iso (the same times as ISO text for JSON).
-- Returns how many jobs changed (0 when the lock was lost).
WITH failed AS (
    UPDATE {schema}.job_queue
    SET status = 'failed',
        error_history = error_history || jsonb_build_array(
            jsonb_build_object('message', %(message)s::text, 'timestamp', %(now_iso)s::text)
        ),
        failure_reason = %(failure_reason)s::text,
        last_failed_at = %(now)s::timestamptz,
        next_attempt_at = %(next_attempt_at)s::timestamptz,
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
    SELECT id, 'failed', %(now)s::timestamptz, jsonb_build_object(
        'message', %(message)s::text,
        'failure_reason', %(failure_reason)s::text,
        'next_attempt_at', %(next_attempt_iso)s::text
    )
    FROM failed
)
SELECT count(*) AS n FROM failed
