-- settle_and_claim.usage: what runs now, per job type and group key, for a
-- claim that limits apply to: the processing range of the status index, as
-- many rows as the workers run. Returns job_type, group_id, running.
SELECT job_type, group_id, count(*) AS running
FROM job_queue INDEXED BY job_queue_status
WHERE status = 'processing'
GROUP BY job_type, group_id
