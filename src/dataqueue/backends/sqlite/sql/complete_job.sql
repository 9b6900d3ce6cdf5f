-- complete_job: the job, still held by :worker_id, becomes completed.
-- Returns the id when it was. :id :worker_id :output (JSON or NULL) :now
UPDATE job_queue
SET status = 'completed',
    completed_at = :now,
    output = :output,
    locked_by = NULL,
    locked_at = NULL,
    updated_at = :now
WHERE id = :id AND status = 'processing' AND locked_by = :worker_id
RETURNING id
