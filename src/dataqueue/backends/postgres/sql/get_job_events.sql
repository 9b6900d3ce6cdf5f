-- get_job_events: a job's event log, oldest first.
-- Parameters: job_id.
SELECT * FROM {schema}.job_events WHERE job_id = %(job_id)s::bigint ORDER BY id
