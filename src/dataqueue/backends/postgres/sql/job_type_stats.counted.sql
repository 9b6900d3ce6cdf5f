-- job_type_stats.counted: job_type_stats read from job_counts (the counted
-- layout, see migrate_partitioned) instead of the jobs' index.
-- Parameters: none used. Returns job_type, status, jobs, oldest_pending_at,
-- completed, failed.
SELECT
    c.job_type,
    c.status,
    sum(c.n) AS jobs,
    NULL::timestamptz AS oldest_pending_at,
    0 AS completed,
    0 AS failed
FROM {schema}.job_counts AS c
GROUP BY c.job_type, c.status
HAVING sum(c.n) <> 0
