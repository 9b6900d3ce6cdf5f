-- held_counts: the held jobs (pending with a pending_reason) per job type
-- and reason, reading at most :limit of them, from job_queue_held_reason
-- (0012) only.
-- :limit. Returns job_type, reason, n by job type and reason.
SELECT job_type, pending_reason AS reason, count(*) AS n
FROM (
    SELECT job_type, pending_reason
    FROM job_queue INDEXED BY job_queue_held_reason
    WHERE status = 'pending' AND pending_reason IS NOT NULL
    LIMIT :limit
)
GROUP BY job_type, pending_reason
ORDER BY job_type, pending_reason
