-- delete_jobs: delete those of the given jobs that are finished (completed,
-- cancelled, or failed with no attempt left), with their events, as
-- cleanup_old_jobs does; their idempotency keys are freed.
-- The events go by an array of the deleted ids, not by a join with them: on
-- the partitioned layout a join's plan could hash every event of every
-- partition for each batch.
-- Parameters: ids (bigint[]). Returns the ids deleted, by id.
WITH doomed AS (
    SELECT id
    FROM {schema}.job_queue
    WHERE id = ANY(%(ids)s::bigint[])
        AND status IN ('completed', 'failed', 'cancelled')
        AND (status <> 'failed' OR next_attempt_at IS NULL)
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
SELECT id FROM deleted ORDER BY id
