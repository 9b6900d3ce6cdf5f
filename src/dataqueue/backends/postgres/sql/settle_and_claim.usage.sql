-- settle_and_claim.usage: what runs now, per job type and group key (the
-- partial index job_queue_running_idx holds only processing jobs).
-- Returns job_type, group_id, running.
SELECT job_type, group_id, count(*) AS running
FROM {schema}.job_queue
WHERE status = 'processing'
GROUP BY job_type, group_id
