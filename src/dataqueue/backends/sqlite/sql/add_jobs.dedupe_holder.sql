-- add_jobs.dedupe_holder: the record of a dedupe key with its job, when the
-- job still exists; what _transitions.dedupe_holds needs to decide whether
-- the key is held. Read inside add_jobs' write transaction.
-- :key
SELECT j.id, j.status, j.next_attempt_at, d.expires_at
FROM dedupe_keys AS d
JOIN job_queue AS j ON j.id = d.job_id AND j.dedupe_key = d.key
WHERE d.key = :key
