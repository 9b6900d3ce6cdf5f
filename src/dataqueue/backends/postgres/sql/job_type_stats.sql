-- job_type_stats: per job type and status, how many jobs; the run_at of the
-- oldest pending job due at now; jobs completed since `since` and jobs whose
-- last failure is since `since`. One pass over the table (index-only where
-- the visibility map allows), for metrics scrapes and `dataqueue stats`.
-- Parameters: now, since. Returns job_type, status, jobs, oldest_pending_at,
-- completed, failed.
SELECT
    j.job_type,
    j.status,
    count(*) AS jobs,
    min(j.run_at) FILTER (
        WHERE j.status = 'pending' AND j.run_at <= %(now)s::timestamptz
    ) AS oldest_pending_at,
    count(*) FILTER (
        WHERE j.status = 'completed' AND j.completed_at >= %(since)s::timestamptz
    ) AS completed,
    count(*) FILTER (WHERE j.last_failed_at >= %(since)s::timestamptz) AS failed
FROM {schema}.job_queue AS j
GROUP BY j.job_type, j.status
