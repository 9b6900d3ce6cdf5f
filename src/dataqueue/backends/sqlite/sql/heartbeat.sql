-- heartbeat: refresh locked_at of every job still held under its lease, in
-- one statement for all of a processor's running jobs, so that
-- reclaim_stuck_jobs leaves them alone while their worker lives.
-- The unary + keeps the planner off the status index (every processing job):
-- each lease finds its job by id instead.
-- :leases (JSON list of [job_id, token]) :now. Returns the ids refreshed.
UPDATE job_queue
SET locked_at = :now
FROM (
    SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS token
    FROM json_each(:leases)
) AS lease
WHERE job_queue.id = lease.id
    AND +job_queue.status = 'processing'
    AND job_queue.lease_token = lease.token
RETURNING job_queue.id
