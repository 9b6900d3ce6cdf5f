-- edit_jobs: change the given fields of the pending jobs among :ids.
-- Each :set_<field> flag (0/1) says whether <field> changes; run_at NULL
-- means now. Returns the ids edited.
-- :ids (JSON list) :now :set_payload :payload (JSON) :set_priority :priority
-- :set_max_attempts :max_attempts :set_run_at :run_at :set_timeout :timeout
-- :set_tags :tags (JSON list) :set_retry_delay :retry_delay
-- :set_retry_backoff :retry_backoff :set_retry_delay_max :retry_delay_max
-- :set_dead_letter_job_type :dead_letter_job_type
UPDATE job_queue
SET payload = CASE WHEN :set_payload THEN :payload ELSE payload END,
    priority = CASE WHEN :set_priority THEN :priority ELSE priority END,
    max_attempts = CASE WHEN :set_max_attempts THEN :max_attempts ELSE max_attempts END,
    run_at = CASE WHEN :set_run_at THEN coalesce(:run_at, :now) ELSE run_at END,
    timeout = CASE WHEN :set_timeout THEN :timeout ELSE timeout END,
    tags = CASE WHEN :set_tags THEN :tags ELSE tags END,
    retry_delay = CASE WHEN :set_retry_delay THEN :retry_delay ELSE retry_delay END,
    retry_backoff = CASE
        WHEN :set_retry_backoff THEN :retry_backoff ELSE retry_backoff
    END,
    retry_delay_max = CASE
        WHEN :set_retry_delay_max THEN :retry_delay_max ELSE retry_delay_max
    END,
    dead_letter_job_type = CASE
        WHEN :set_dead_letter_job_type THEN :dead_letter_job_type
        ELSE dead_letter_job_type
    END,
    updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'pending'
RETURNING id
