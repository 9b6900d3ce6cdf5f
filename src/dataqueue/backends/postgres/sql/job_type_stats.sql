-- job_type_stats: per job type and status, how many jobs (read from the
-- (job_type, status, id) index alone). With job_type_stats.recent, for
-- metrics scrapes and `dataqueue stats`; job_type_stats.counted reads the
-- same from job_counts on the counted layout.
-- Parameters: none used. Returns job_type, status, jobs, oldest_pending_at,
-- completed, failed.
SELECT
    j.job_type,
    j.status,
    count(*) AS jobs,
    NULL::timestamptz AS oldest_pending_at,
    0 AS completed,
    0 AS failed
FROM {schema}.job_queue AS j
GROUP BY j.job_type, j.status
