-- get_jobs: the jobs matching every filter, newest first, one page.
-- The filter's parameters (get_jobs.filter), and status (NULL: any).
-- Also: limit, offset.
SELECT j.*
FROM {schema}.job_queue AS j
WHERE true
    AND (%(status)s::text IS NULL OR j.status = %(status)s::text)
    AND {job_filter}
ORDER BY j.id DESC
LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
