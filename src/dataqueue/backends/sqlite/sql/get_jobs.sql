-- get_jobs: jobs matching every given filter (get_jobs.filter), newest
-- first. The filter's parameters, and :limit (-1 = no limit) :offset
-- The first condition is one filter_by.*.sql, picked for the filter by
-- codec.filtered_statement: SQLite plans a statement once whatever its
-- parameters, and the NULL tests of the filter would make it read every job.
SELECT j.*
FROM job_queue AS j
WHERE {driver}
    AND {job_filter}
ORDER BY j.id DESC
LIMIT :limit OFFSET :offset
