-- settle_and_claim.front_of_line: the first :limit due pending jobs of a
-- paused job type, by id (the (job_type, status, id) index, a short range):
-- the walk marks them held (limits.walk). :job_type :limit :now
-- Returns id, job_type, group_id, pending_reason, status.
SELECT id, job_type, group_id, pending_reason, status
FROM job_queue INDEXED BY job_queue_type_status
WHERE job_type = :job_type AND status = 'pending' AND run_at <= :now
    AND pending_reason IS NOT 'dependency'
ORDER BY id
LIMIT :limit
