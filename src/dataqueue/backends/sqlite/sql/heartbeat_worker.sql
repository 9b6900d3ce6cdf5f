-- heartbeat_worker: a registered worker is alive, running these jobs, with
-- these counts since it started.
-- :id :running_job_ids (JSON list) :processed :failed :now. Returns quiet
-- (asked to stop taking jobs: 1) when registered (no row: it was removed
-- as dead and must register again).
UPDATE workers
SET last_heartbeat = :now,
    running_job_ids = :running_job_ids,
    processed = :processed,
    failed = :failed
WHERE id = :id
RETURNING quiet
