-- fail_job: the job, still held by :worker_id, becomes failed; the error is
-- appended to error_history and it runs again at :next_attempt_at (NULL: never).
-- Returns the id when it was. :id :worker_id :error (JSON object)
-- :failure_reason :next_attempt_at :now
UPDATE job_queue
SET status = 'failed',
    error_history = json_insert(error_history, '$[#]', json(:error)),
    failure_reason = :failure_reason,
    last_failed_at = :now,
    next_attempt_at = :next_attempt_at,
    locked_by = NULL,
    locked_at = NULL,
    updated_at = :now
WHERE id = :id AND status = 'processing' AND locked_by = :worker_id
RETURNING id
