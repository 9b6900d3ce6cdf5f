-- add_jobs.dedupe_record: the dedupe key now names job_id, held until
-- expires_at (NULL: until the job finishes).
-- Parameters: key, job_id, expires_at.
-- Returns the key.
INSERT INTO {schema}.dedupe_keys AS d (key, job_id, expires_at)
VALUES (%(key)s::text, %(job_id)s::bigint, %(expires_at)s::timestamptz)
ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, expires_at = excluded.expires_at
RETURNING d.key
