-- reclaim_stuck_jobs.find: processing jobs whose lock was not refreshed for
-- longer than :threshold seconds, or than their own timeout when it is
-- longer: their worker is gone. Returns id and the lost lock holder.
-- :now (microseconds) :threshold (seconds)
SELECT id, locked_by
FROM job_queue
WHERE status = 'processing'
    AND locked_at < :now - CAST(max(:threshold, coalesce(timeout, 0)) * 1000000 AS INTEGER)
ORDER BY id
