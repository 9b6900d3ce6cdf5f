-- heartbeat_worker: a registered worker is alive, running these jobs.
-- Parameters: id, running_job_ids (bigint[]), now.
-- Returns the id, or no row when the worker is not registered (it was
-- removed as dead and registers again).
UPDATE {schema}.workers
SET last_heartbeat = %(now)s::timestamptz,
    running_job_ids = %(running_job_ids)s::bigint[]
WHERE id = %(id)s::text
RETURNING id
