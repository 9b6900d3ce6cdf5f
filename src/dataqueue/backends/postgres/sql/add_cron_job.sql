-- add_cron_job: insert an active schedule with its first run, unless its
-- name is taken (the UNIQUE constraint decides, so two concurrent adds of one
-- name cannot both win).
-- Parameters: schedule_name, cron_expression, job_type, payload (JSON text),
-- timezone, allow_overlap, max_attempts, priority, timeout, tags (text[]),
-- retry_delay, retry_backoff, retry_delay_max, dead_letter_job_type,
-- next_run_at, now.
-- Returns the new id, or no row when the name is taken.
INSERT INTO {schema}.cron_schedules (
    schedule_name, cron_expression, job_type, payload, timezone, allow_overlap,
    status, max_attempts, priority, timeout, tags, retry_delay, retry_backoff,
    retry_delay_max, dead_letter_job_type, next_run_at, created_at, updated_at
)
VALUES (
    %(schedule_name)s::text, %(cron_expression)s::text, %(job_type)s::text,
    %(payload)s::json, %(timezone)s::text, %(allow_overlap)s::boolean, 'active',
    %(max_attempts)s::integer, %(priority)s::integer,
    %(timeout)s::double precision, %(tags)s::text[],
    %(retry_delay)s::double precision, %(retry_backoff)s::boolean,
    %(retry_delay_max)s::double precision, %(dead_letter_job_type)s::text,
    %(next_run_at)s::timestamptz,
    %(now)s::timestamptz, %(now)s::timestamptz
)
ON CONFLICT (schedule_name) DO NOTHING
RETURNING id
