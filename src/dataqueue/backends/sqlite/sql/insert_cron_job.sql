-- insert_cron_job: the job of a claimed due time (see enqueue_cron_jobs),
-- with the schedule's id and the due time it is for. Returns its id.
-- :job_type :payload (JSON) :priority :max_attempts :timeout :tags (JSON list)
-- :retry_delay :retry_backoff :retry_delay_max :cron_job_id :cron_due_at :now
INSERT INTO job_queue (
    job_type, payload, status, created_at, updated_at, max_attempts, priority,
    run_at, timeout, force_kill_on_timeout, tags, retry_delay, retry_backoff,
    retry_delay_max, cron_job_id, cron_due_at
)
VALUES (
    :job_type, :payload, 'pending', :now, :now, :max_attempts, :priority, :now,
    :timeout, 0, :tags, :retry_delay, :retry_backoff, :retry_delay_max,
    :cron_job_id, :cron_due_at
)
RETURNING id
