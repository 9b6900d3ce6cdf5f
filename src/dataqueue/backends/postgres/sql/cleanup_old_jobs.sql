-- cleanup_old_jobs: delete one batch of finished jobs (completed, cancelled,
-- or failed with no attempt left) last updated before the cutoff. Their
-- events go with them (ON DELETE CASCADE); their idempotency keys are freed.
-- Parameters: before, batch_size. Returns how many jobs were deleted.
WITH doomed AS (
    SELECT id
    FROM {schema}.job_queue
    WHERE (
            status IN ('completed', 'cancelled')
            OR (status = 'failed' AND next_attempt_at IS NULL)
        )
        AND updated_at < %(before)s::timestamptz
    LIMIT %(batch_size)s::integer
    FOR UPDATE SKIP LOCKED
),
deleted AS (
    DELETE FROM {schema}.job_queue AS j
    USING doomed
    WHERE j.id = doomed.id
    RETURNING j.id
)
SELECT count(*) AS n FROM deleted
