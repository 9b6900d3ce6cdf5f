-- prolong_job: refresh the lock of a job still held under the attempt's
-- lease, so that reclaim_stuck_jobs leaves it alone; the caller records the
-- prolonged event. Returns the id when the lease held. :id :token :now
UPDATE job_queue
SET locked_at = :now, updated_at = :now
WHERE id = :id AND status = 'processing' AND lease_token = :token
RETURNING id
