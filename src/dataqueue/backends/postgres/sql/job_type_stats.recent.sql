-- job_type_stats.recent: per job type (status NULL) the run_at of the
-- oldest pending job due at now (pending jobs only), and the jobs
-- completed since `since` and those whose last failure is since `since`
-- (only rows changed since then, through the (status, updated_at) index:
-- a completion or failure sets updated_at).
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
FROM {schema}.job_queue AS j
WHERE j.status IN ('pending', 'processing', 'completed', 'failed', 'cancelled', 'waiting')
    AND j.updated_at >= %(since)s::timestamptz
GROUP BY j.job_type
