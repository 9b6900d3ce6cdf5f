-- held_counts: the held jobs (pending with a pending_reason) per job type
-- and reason, reading at most `limit` of them, from job_queue_held_reason_idx
-- (0015) only.
-- Parameters: limit. Returns job_type, reason, n by job type and reason.
SELECT job_type, pending_reason AS reason, count(*)::int AS n
FROM (
    SELECT job_type, pending_reason
    FROM {schema}.job_queue
    WHERE status = 'pending' AND pending_reason IS NOT NULL
    LIMIT %(limit)s::int
) AS held
GROUP BY job_type, pending_reason
ORDER BY job_type, pending_reason
