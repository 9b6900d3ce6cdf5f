-- get_job_events: a job's event log, oldest first.
-- :job_id
SELECT * FROM job_events WHERE job_id = :job_id ORDER BY id
