-- heartbeat_worker: a registered worker is alive and running these jobs.
-- :id :running_job_ids (JSON list) :now. Returns the id when registered (no
-- row: it was removed as dead and must register again).
UPDATE workers
SET last_heartbeat = :now, running_job_ids = :running_job_ids
WHERE id = :id
RETURNING id
