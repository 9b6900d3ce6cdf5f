-- settle_and_claim.front_of_line: the first claim_limit due pending jobs of
-- a paused job type, by id (job_queue_type_status_idx, a short range): the
-- walk marks them held (limits.walk). Parameters: job_type, claim_limit, now.
-- Returns id, job_type, group_id, pending_reason, status.
SELECT id, job_type, group_id, pending_reason, status
FROM {schema}.job_queue
WHERE job_type = %(job_type)s AND status = 'pending'
    AND run_at <= %(now)s::timestamptz
    AND pending_reason IS DISTINCT FROM 'dependency'
ORDER BY id
LIMIT %(claim_limit)s::integer
