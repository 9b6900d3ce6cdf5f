-- cleanup_old_jobs.counts: on the counted layout (see migrate_partitioned),
-- fold the job_counts rows of backends that are gone into one row per job
-- type and status, so the rows summed by count_jobs.counted stay few.
-- No parameters. Returns nothing of use.
SELECT {schema}.compact_job_counts()
