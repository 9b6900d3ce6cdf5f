-- edit_cron_job: change the given fields of one schedule. Each field has a
-- set_<field> flag, so that "set to NULL" and "leave alone" differ. When the
-- expression or timezone changes, next_run_at (computed in Python) is set
-- too, and only if the schedule still has the expected expression and
-- timezone that it was computed from.
-- Parameters: id, now, set_<f> and new_<f> for cron_expression, job_type,
-- payload, timezone, allow_overlap, max_attempts, priority, timeout, tags,
-- retry_delay, retry_backoff, retry_delay_max, dead_letter_job_type;
-- next_run_at (NULL: unchanged),
-- expected_expression and expected_timezone (NULL: no check).
-- Returns the id when it changed.
UPDATE {schema}.cron_schedules AS s
SET cron_expression = CASE WHEN %(set_cron_expression)s::boolean
        THEN %(new_cron_expression)s::text ELSE s.cron_expression END,
    job_type = CASE WHEN %(set_job_type)s::boolean
        THEN %(new_job_type)s::text ELSE s.job_type END,
    payload = CASE WHEN %(set_payload)s::boolean
        THEN %(new_payload)s::json ELSE s.payload END,
    timezone = CASE WHEN %(set_timezone)s::boolean
        THEN %(new_timezone)s::text ELSE s.timezone END,
    allow_overlap = CASE WHEN %(set_allow_overlap)s::boolean
        THEN %(new_allow_overlap)s::boolean ELSE s.allow_overlap END,
    max_attempts = CASE WHEN %(set_max_attempts)s::boolean
        THEN %(new_max_attempts)s::integer ELSE s.max_attempts END,
    priority = CASE WHEN %(set_priority)s::boolean
        THEN %(new_priority)s::integer ELSE s.priority END,
    timeout = CASE WHEN %(set_timeout)s::boolean
        THEN %(new_timeout)s::double precision ELSE s.timeout END,
    tags = CASE WHEN %(set_tags)s::boolean
        THEN %(new_tags)s::text[] ELSE s.tags END,
    retry_delay = CASE WHEN %(set_retry_delay)s::boolean
        THEN %(new_retry_delay)s::double precision ELSE s.retry_delay END,
    retry_backoff = CASE WHEN %(set_retry_backoff)s::boolean
        THEN %(new_retry_backoff)s::boolean ELSE s.retry_backoff END,
    retry_delay_max = CASE WHEN %(set_retry_delay_max)s::boolean
        THEN %(new_retry_delay_max)s::double precision ELSE s.retry_delay_max END,
    dead_letter_job_type = CASE WHEN %(set_dead_letter_job_type)s::boolean
        THEN %(new_dead_letter_job_type)s::text ELSE s.dead_letter_job_type END,
    next_run_at = coalesce(%(next_run_at)s::timestamptz, s.next_run_at),
    updated_at = %(now)s::timestamptz
WHERE s.id = %(id)s::bigint
    AND (%(expected_expression)s::text IS NULL
        OR (s.cron_expression = %(expected_expression)s::text
            AND s.timezone = %(expected_timezone)s::text))
RETURNING s.id
