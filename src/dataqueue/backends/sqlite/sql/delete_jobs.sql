-- delete_jobs: delete those of the given jobs that are finished (completed,
-- cancelled, failed with no attempt left). Triggers delete their events
-- and tags; their idempotency keys become free.
-- :ids (JSON list). Returns the ids deleted.
DELETE FROM job_queue
WHERE id IN (SELECT value FROM json_each(:ids))
    AND (
        status IN ('completed', 'cancelled')
        OR (status = 'failed' AND next_attempt_at IS NULL)
    )
RETURNING id
