-- register_worker: record a processor under its id, replacing an earlier
-- registration of that id (a restarted worker).
-- :id :host :pid :started_at :last_heartbeat :job_types (JSON list or NULL:
-- every type) :concurrency :running_job_ids (JSON list) :processed :failed
-- :quiet (0 or 1)
INSERT INTO workers (
    id, host, pid, started_at, last_heartbeat, job_types, concurrency,
    running_job_ids, processed, failed, quiet
)
VALUES (
    :id, :host, :pid, :started_at, :last_heartbeat, :job_types, :concurrency,
    :running_job_ids, :processed, :failed, :quiet
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
