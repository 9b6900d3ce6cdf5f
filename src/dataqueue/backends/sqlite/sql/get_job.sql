-- get_job: one job by id.
-- :id
SELECT * FROM job_queue WHERE id = :id
