-- edit_cron_job: change the given fields of one schedule. Each :set_<field>
-- flag (0/1) says whether <field> changes. :next_run_at (NULL: unchanged) is
-- set when the expression or timezone changed, and then only if the
-- schedule still has :expected_expression and :expected_timezone (NULL: no
-- check), the values it was computed from. Returns the id when it changed.
-- :id :now :next_run_at :expected_expression :expected_timezone
-- :set_<f> :<f> for cron_expression job_type payload (JSON) timezone
-- allow_overlap max_attempts priority timeout tags (JSON list) retry_delay
-- retry_backoff retry_delay_max dead_letter_job_type
UPDATE cron_schedules
SET cron_expression = CASE
        WHEN :set_cron_expression THEN :cron_expression ELSE cron_expression
    END,
    job_type = CASE WHEN :set_job_type THEN :job_type ELSE job_type END,
    payload = CASE WHEN :set_payload THEN :payload ELSE payload END,
    timezone = CASE WHEN :set_timezone THEN :timezone ELSE timezone END,
    allow_overlap = CASE
        WHEN :set_allow_overlap THEN :allow_overlap ELSE allow_overlap
    END,
    max_attempts = CASE WHEN :set_max_attempts THEN :max_attempts ELSE max_attempts END,
    priority = CASE WHEN :set_priority THEN :priority ELSE priority END,
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
    next_run_at = coalesce(:next_run_at, next_run_at),
    updated_at = :now
WHERE id = :id
    AND (:expected_expression IS NULL
        OR (cron_expression = :expected_expression AND timezone = :expected_timezone))
RETURNING id
