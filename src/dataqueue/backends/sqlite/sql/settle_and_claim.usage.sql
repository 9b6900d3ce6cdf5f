-- settle_and_claim.usage: what runs now, per job type and group key, for a
-- claim that limits apply to (the partial index job_queue_running holds only
-- processing jobs). Returns job_type, group_id, running.
SELECT job_type, group_id, count(*) AS running
FROM job_queue INDEXED BY job_queue_running
WHERE status = 'processing'
GROUP BY job_type, group_id
