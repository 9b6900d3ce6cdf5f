-- retry_job: a failed or cancelled job becomes pending and due now. A job in
-- any other state is left alone: retrying a processing one would run it
-- twice. run_at keeps an earlier time, so a retried job keeps its place in
-- line. :statuses (JSON list) are the ones it starts from (failed,
-- cancelled). Returns the id when the job was retried. :id :statuses :now
UPDATE job_queue
SET status = 'pending',
    run_at = min(run_at, :now),
    next_attempt_at = NULL,
    last_retried_at = :now,
    updated_at = :now
WHERE id = :id AND status IN (SELECT value FROM json_each(:statuses))
RETURNING id
