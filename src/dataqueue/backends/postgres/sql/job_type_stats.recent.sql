-- job_type_stats.recent: per job type (status NULL) the run_at of the
-- oldest pending job due at now (pending jobs only), and the jobs
-- completed since `since` and those whose last failure is since `since`
-- (only rows changed since then: a completion or failure sets updated_at;
-- finished jobs through the finished index on updated_at, the others, few
-- beside them, through the status index).
-- Parameters: now, since. Returns job_type, status, jobs, oldest_pending_at,
-- completed, failed.
SELECT j.job_type, NULL AS status, 0 AS jobs, min(j.run_at) AS oldest_pending_at,
    0 AS completed, 0 AS failed
FROM {schema}.job_queue AS j
WHERE j.status = 'pending' AND j.run_at <= %(now)s::timestamptz
GROUP BY j.job_type
UNION ALL
SELECT
    j.job_type,
    NULL,
    0,
    NULL,
    count(*) FILTER (
        WHERE j.status = 'completed' AND j.completed_at >= %(since)s::timestamptz
    ),
    count(*) FILTER (WHERE j.last_failed_at >= %(since)s::timestamptz)
FROM (
    SELECT job_type, status, completed_at, last_failed_at
    FROM {schema}.job_queue
    WHERE status IN ('completed', 'failed', 'cancelled')
        AND updated_at >= %(since)s::timestamptz
    UNION ALL
    SELECT job_type, status, completed_at, last_failed_at
    FROM {schema}.job_queue
    WHERE status IN ('pending', 'processing', 'waiting')
        AND updated_at >= %(since)s::timestamptz
) AS j
GROUP BY j.job_type
