-- retry_job: a failed or processing job becomes pending again (run_at kept,
-- so it is due at once unless scheduled later); the lock is released.
-- Returns the id when the job was retried. :id :now
UPDATE job_queue
SET status = 'pending',
    next_attempt_at = NULL,
    locked_by = NULL,
    locked_at = NULL,
    last_retried_at = :now,
    updated_at = :now
WHERE id = :id AND status IN ('failed', 'processing')
RETURNING id
