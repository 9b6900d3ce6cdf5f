-- add_jobs: insert one job, unless its idempotency_key is taken. The new id
-- is the cursor's lastrowid; no row changed means the key is taken (the
-- caller then reads the existing id with add_jobs.existing). Jobs with no
-- key, dedupe key or prerequisites go in by one executemany. A job
-- enqueued by a cron schedule (enqueue_cron_jobs) has its cron_job_id and
-- cron_due_at, a flow's step (start_flow) its flow_id and flow_step_index;
-- other jobs have NULL there. The entity is stored as its id and type.
-- Positional parameters, bound from a tuple (codec.new_job_params), which
-- costs less than binding a dict by name; one for each column below, in
-- its order, both times the same now, run_at already defaulted to now.
INSERT INTO job_queue (
    job_type, payload, status, created_at, updated_at, max_attempts, priority,
    run_at, timeout, force_kill_on_timeout, tags, idempotency_key, retry_delay,
    retry_backoff, retry_delay_max, flow_id, flow_step_index, entity_id,
    entity_type, cron_job_id, cron_due_at, dead_letter_job_type, dedupe_key,
    group_id
)
VALUES (
    ?, ?, 'pending', ?, ?, ?, ?,
    ?, ?, ?, ?,
    ?, ?, ?, ?, ?,
    ?, ?, ?, ?, ?,
    ?, ?, ?
)
ON CONFLICT (idempotency_key) DO NOTHING
