-- reclaim_stuck_jobs: the processing jobs among :ids (found by
-- find_stuck_jobs in the same transaction) go back to pending, unlocked.
-- Returns the ids reclaimed. :ids (JSON list) :now
UPDATE job_queue
SET status = 'pending',
    locked_by = NULL,
    locked_at = NULL,
    updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'processing'
RETURNING id
