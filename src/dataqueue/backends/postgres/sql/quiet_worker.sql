-- quiet_worker: ask a registered worker to stop taking jobs; it reads the
-- flag back with its next heartbeat.
-- Parameters: id. Returns the id, or no row when there is no such worker.
UPDATE {schema}.workers SET quiet = true WHERE id = %(id)s::text RETURNING id
