-- quiet_worker: ask a registered worker to stop taking jobs; it reads the
-- flag back with its next heartbeat.
-- :id. Returns the id, or no row when there is no such worker.
UPDATE workers SET quiet = 1 WHERE id = :id RETURNING id
