-- count_jobs.counted: count_jobs read from job_counts (the counted layout,
-- see migrate_partitioned) for a filter of job type and status only.
-- Parameters: job_type, status (NULL: any). Returns status, n.
SELECT c.status, sum(c.n) AS n
FROM {schema}.job_counts AS c
WHERE (%(job_type)s::text IS NULL OR c.job_type = %(job_type)s::text)
    AND (%(status)s::text IS NULL OR c.status = %(status)s::text)
GROUP BY c.status
HAVING sum(c.n) <> 0
