-- add_jobs: insert one job, unless its idempotency_key is taken.
-- Returns the new id, or no row when the key is taken (the caller then reads
-- the existing id with add_jobs.existing). run_at NULL means now.
-- :job_type :payload (JSON) :priority :run_at :max_attempts :timeout
-- :force_kill_on_timeout :tags (JSON list) :idempotency_key :retry_delay
-- :retry_backoff :retry_delay_max :flow_id :now
INSERT INTO job_queue (
    job_type, payload, status, created_at, updated_at, max_attempts, priority,
    run_at, timeout, force_kill_on_timeout, tags, idempotency_key, retry_delay,
    retry_backoff, retry_delay_max, flow_id
)
VALUES (
    :job_type, :payload, 'pending', :now, :now, :max_attempts, :priority,
    coalesce(:run_at, :now), :timeout, :force_kill_on_timeout, :tags,
    :idempotency_key, :retry_delay, :retry_backoff, :retry_delay_max, :flow_id
)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id
