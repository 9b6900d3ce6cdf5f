-- job_type_stats: per job type and status, how many jobs; the run_at of the
-- oldest pending job due at :now; jobs completed since :since and jobs whose
-- last failure is since :since. One pass over the table, for metrics
-- scrapes and `dataqueue stats`. Times in epoch microseconds.
-- :now :since. Returns job_type, status, jobs, oldest_pending_at, completed,
-- failed.
SELECT
    j.job_type,
    j.status,
    count(*) AS jobs,
    min(CASE WHEN j.status = 'pending' AND j.run_at <= :now THEN j.run_at END)
        AS oldest_pending_at,
    count(CASE WHEN j.status = 'completed' AND j.completed_at >= :since THEN 1 END)
        AS completed,
    count(CASE WHEN j.last_failed_at >= :since THEN 1 END) AS failed
FROM job_queue AS j
GROUP BY j.job_type, j.status
