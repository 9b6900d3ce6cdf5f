-- cleanup_old_jobs: delete one batch of finished jobs (completed, cancelled,
-- or failed with no attempt left) last updated before the cutoff, with
-- their events (no foreign key does it: job_events has none, so that
-- writing an event never checks and locks its job); their idempotency keys
-- are freed.
-- The events go by an array of the deleted ids, not by a join with them: on
-- the partitioned layout a join's plan could hash every event of every
-- partition for each batch.
-- Parameters: before, batch_size. Returns how many jobs were deleted.
WITH doomed AS (
    SELECT id
    FROM {schema}.job_queue
    WHERE status IN ('completed', 'failed', 'cancelled')
        AND (status <> 'failed' OR next_attempt_at IS NULL)
        AND updated_at < %(before)s::timestamptz
    LIMIT %(batch_size)s::integer
    FOR UPDATE SKIP LOCKED
),
deleted AS (
    DELETE FROM {schema}.job_queue AS j
    USING doomed
    WHERE j.id = doomed.id
    RETURNING j.id
),
forgotten AS (
    DELETE FROM {schema}.job_events AS e
    WHERE e.job_id = ANY(ARRAY(SELECT id FROM deleted))
)
SELECT count(*) AS n FROM deleted
