-- cleanup_old_jobs: delete up to :batch_size finished jobs (completed,
-- cancelled, failed with no attempt left) last updated before :before.
-- Triggers delete their events and tags; their idempotency keys become free.
-- :before :batch_size
DELETE FROM job_queue
WHERE id IN (
    SELECT id FROM job_queue
    WHERE (
        status IN ('completed', 'cancelled')
        OR (status = 'failed' AND next_attempt_at IS NULL)
    )
        AND updated_at < :before
    LIMIT :batch_size
)
