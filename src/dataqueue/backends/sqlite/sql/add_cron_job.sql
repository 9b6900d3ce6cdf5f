-- add_cron_job: insert an active schedule with its first run, unless its
-- name is taken (the UNIQUE constraint decides).
-- Returns the new id, or no row when the name is taken.
-- :schedule_name :cron_expression :job_type :payload (JSON) :timezone
-- :allow_overlap :max_attempts :priority :timeout :tags (JSON list)
-- :retry_delay :retry_backoff :retry_delay_max :dead_letter_job_type
-- :next_run_at :now
INSERT INTO cron_schedules (
    schedule_name, cron_expression, job_type, payload, timezone, allow_overlap,
    status, max_attempts, priority, timeout, tags, retry_delay, retry_backoff,
    retry_delay_max, dead_letter_job_type, next_run_at, created_at, updated_at
)
VALUES (
    :schedule_name, :cron_expression, :job_type, :payload, :timezone,
    :allow_overlap, 'active', :max_attempts, :priority, :timeout, :tags,
    :retry_delay, :retry_backoff, :retry_delay_max, :dead_letter_job_type,
    :next_run_at, :now, :now
)
ON CONFLICT (schedule_name) DO NOTHING
RETURNING id
