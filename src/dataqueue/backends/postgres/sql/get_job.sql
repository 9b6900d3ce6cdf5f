-- get_job: one job by id.
-- Parameters: job_id.
SELECT * FROM {schema}.job_queue WHERE id = %(job_id)s::bigint
