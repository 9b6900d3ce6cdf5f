-- prolong_job: refresh the lock of a job still held by :worker_id, so that
-- reclaim_stuck_jobs leaves it alone. Returns the id when it was.
-- :id :worker_id :now
UPDATE job_queue
SET locked_at = :now, updated_at = :now
WHERE id = :id AND status = 'processing' AND locked_by = :worker_id
RETURNING id
