-- heartbeat_worker: a registered worker is alive, running these jobs, with
-- these counts since it started.
-- Parameters: id, running_job_ids (bigint[]), processed, failed, now.
-- Returns quiet (whether it was asked to stop taking jobs), or no row when
-- the worker is not registered (it was removed as dead and registers again).
UPDATE {schema}.workers
SET last_heartbeat = %(now)s::timestamptz,
    running_job_ids = %(running_job_ids)s::bigint[],
    processed = %(processed)s::bigint,
    failed = %(failed)s::bigint
WHERE id = %(id)s::text
RETURNING quiet
