-- add_jobs: insert one job, unless its idempotency_key is taken. The new id
-- is the cursor's lastrowid; no row changed means the key is taken (the
-- caller then reads the existing id with add_jobs.existing). Jobs with no
-- key, dedupe key or prerequisites go in by one executemany. run_at NULL
-- means now. A job enqueued by a cron schedule (enqueue_cron_jobs) has its
-- cron_job_id and cron_due_at, a flow's step (start_flow) its flow_id and
-- flow_step_index; other jobs have NULL there. The entity is stored as its
-- id and type.
-- Numbered parameters, bound from a tuple (codec.new_job_params), which
-- costs less than binding a dict by name:
-- ?1 now, then in the columns' order: ?2 job_type, ?3 payload (JSON),
-- ?4 max_attempts, ?5 priority, ?6 run_at, ?7 timeout,
-- ?8 force_kill_on_timeout, ?9 tags (JSON list), ?10 idempotency_key,
-- ?11 retry_delay, ?12 retry_backoff, ?13 retry_delay_max, ?14 flow_id,
-- ?15 flow_step_index, ?16 entity_id, ?17 entity_type, ?18 cron_job_id,
-- ?19 cron_due_at, ?20 dead_letter_job_type, ?21 dedupe_key, ?22 group_id
INSERT INTO job_queue (
    job_type, payload, status, created_at, updated_at, max_attempts, priority,
    run_at, timeout, force_kill_on_timeout, tags, idempotency_key, retry_delay,
    retry_backoff, retry_delay_max, flow_id, flow_step_index, entity_id,
    entity_type, cron_job_id, cron_due_at, dead_letter_job_type, dedupe_key,
    group_id
)
VALUES (
    ?2, ?3, 'pending', ?1, ?1, ?4, ?5,
    coalesce(?6, ?1), ?7, ?8, ?9,
    ?10, ?11, ?12, ?13, ?14,
    ?15, ?16, ?17, ?18, ?19,
    ?20, ?21, ?22
)
ON CONFLICT (idempotency_key) DO NOTHING
