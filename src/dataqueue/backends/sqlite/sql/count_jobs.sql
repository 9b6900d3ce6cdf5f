-- count_jobs: how many jobs match every given filter, per status (statuses
-- with none are missing): get_jobs's filter (get_jobs.filter), :status and
-- :statuses NULL here. The filter's parameters; the first condition as in
-- get_jobs.
SELECT j.status, count(*) AS jobs
FROM job_queue AS j
WHERE {driver}
    AND {job_filter}
GROUP BY j.status
