-- register_worker: record a processor under its id, replacing a row of the
-- same id (a worker registering again after it was removed as dead).
-- Parameters: id, host, pid, started_at, last_heartbeat, job_types (text[],
-- NULL: every type), concurrency, running_job_ids (bigint[]), processed,
-- failed, quiet.
-- Returns nothing.
INSERT INTO {schema}.workers (
    id, host, pid, started_at, last_heartbeat, job_types, concurrency,
    running_job_ids, processed, failed, quiet
)
VALUES (
    %(id)s::text, %(host)s::text, %(pid)s::integer, %(started_at)s::timestamptz,
    %(last_heartbeat)s::timestamptz, %(job_types)s::text[],
    %(concurrency)s::integer, %(running_job_ids)s::bigint[],
    %(processed)s::bigint, %(failed)s::bigint, %(quiet)s::boolean
)
ON CONFLICT (id) DO UPDATE SET
    host = excluded.host,
    pid = excluded.pid,
    started_at = excluded.started_at,
    last_heartbeat = excluded.last_heartbeat,
    job_types = excluded.job_types,
    concurrency = excluded.concurrency,
    running_job_ids = excluded.running_job_ids,
    processed = excluded.processed,
    failed = excluded.failed,
    quiet = excluded.quiet
