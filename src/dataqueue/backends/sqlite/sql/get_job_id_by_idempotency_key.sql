-- get_job_id_by_idempotency_key: the job holding an idempotency key.
-- :idempotency_key
SELECT id FROM job_queue WHERE idempotency_key = :idempotency_key
