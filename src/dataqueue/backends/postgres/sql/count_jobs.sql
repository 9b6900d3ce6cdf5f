-- count_jobs: how many jobs match the filters, per status (statuses with
-- no job have no row).
-- The filter's parameters (get_jobs.filter), status NULL: the counts are
-- per status.
-- Returns status, n.
SELECT j.status, count(*) AS n
FROM {schema}.job_queue AS j
WHERE true
    AND {job_filter}
GROUP BY j.status
