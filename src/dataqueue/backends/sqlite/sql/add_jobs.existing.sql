-- add_jobs.existing: the job holding an idempotency key, read when add_jobs
-- found the key taken. Returns its id.
-- :idempotency_key
SELECT id FROM job_queue WHERE idempotency_key = :idempotency_key
