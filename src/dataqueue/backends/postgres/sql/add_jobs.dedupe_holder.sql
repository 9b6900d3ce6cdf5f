-- add_jobs.dedupe_holder: the record of a dedupe key with its job, when the
-- job still exists: what _transitions.dedupe_holds needs to decide whether
-- the key is held. The job's row is locked, so that a claim cannot take a
-- debounced job between this read and its update (the claim skips it).
-- Parameters: key.
-- Returns no row, or id, status, next_attempt_at, expires_at.
SELECT j.id, j.status, j.next_attempt_at, d.expires_at
FROM {schema}.dedupe_keys AS d
JOIN {schema}.job_queue AS j ON j.id = d.job_id AND j.dedupe_key = d.key
WHERE d.key = %(key)s::text
FOR UPDATE OF j
