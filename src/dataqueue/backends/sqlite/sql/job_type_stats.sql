-- job_type_stats: per job type and status, how many jobs (read from the
-- (job_type, status, id) index alone); then per job type (status NULL) the
-- run_at of the oldest pending job due at :now, and the jobs completed
-- since :since and those whose last failure is since :since: finished
-- jobs through the cleanup index (a completion or failure sets
-- updated_at), unfinished ones among the active jobs. For metrics scrapes
-- and `dataqueue stats`. Times in epoch microseconds. SQLite plans once,
-- without knowing how few rows the filters keep: `+j.job_type` stops it
-- from walking the (job_type, status) index in group order to spare a
-- sort, and INDEXED BY names the index that holds only the rows wanted.
-- :now :since. Returns job_type, status, jobs, oldest_pending_at, completed,
-- failed.
SELECT
    j.job_type,
    j.status,
    count(*) AS jobs,
    NULL AS oldest_pending_at,
    0 AS completed,
    0 AS failed
FROM job_queue AS j
GROUP BY j.job_type, j.status
UNION ALL
SELECT j.job_type, NULL, 0, min(j.run_at), 0, 0
FROM job_queue AS j
WHERE j.status = 'pending' AND j.run_at <= :now
GROUP BY +j.job_type
UNION ALL
SELECT
    j.job_type,
    NULL,
    0,
    NULL,
    count(CASE WHEN j.status = 'completed' AND j.completed_at >= :since THEN 1 END),
    count(CASE WHEN j.last_failed_at >= :since THEN 1 END)
FROM job_queue AS j INDEXED BY job_queue_cleanup
WHERE j.status IN ('completed', 'cancelled', 'failed') AND j.updated_at >= :since
GROUP BY +j.job_type
UNION ALL
SELECT j.job_type, NULL, 0, NULL, 0, count(*)
FROM job_queue AS j INDEXED BY job_queue_status
WHERE j.status IN ('pending', 'processing', 'waiting') AND j.last_failed_at >= :since
GROUP BY +j.job_type
