-- add_jobs.dedupe_record: the dedupe key now names :job_id, held until
-- :expires_at (NULL: until the job finishes).
-- :key :job_id :expires_at
INSERT INTO dedupe_keys (key, job_id, expires_at)
VALUES (:key, :job_id, :expires_at)
ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, expires_at = excluded.expires_at
