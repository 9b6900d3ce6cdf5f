-- edit_jobs: change the given fields of one pending job (job_id) or of every
-- pending job matching the filters (job_id NULL); records an 'edited' event
-- per job. Each field has a set_<field> flag, so that "set to NULL" and
-- "leave alone" differ; run_at NULL means now.
-- The filter's parameters (get_jobs.filter), and status (NULL: any).
-- Also: job_id, statuses (the ones an edit starts from: pending), now,
-- metadata (the event's JSON text), and set_<f> plus new_<f> for payload,
-- priority, max_attempts, run_at, timeout, tags, retry_delay, retry_backoff,
-- retry_delay_max, dead_letter_job_type. Returns how many jobs changed.
WITH edited AS (
    UPDATE {schema}.job_queue AS j
    SET payload = CASE WHEN %(set_payload)s::boolean
            THEN %(new_payload)s::json ELSE j.payload END,
        priority = CASE WHEN %(set_priority)s::boolean
            THEN %(new_priority)s::integer ELSE j.priority END,
        max_attempts = CASE WHEN %(set_max_attempts)s::boolean
            THEN %(new_max_attempts)s::integer ELSE j.max_attempts END,
        run_at = CASE WHEN %(set_run_at)s::boolean
            THEN coalesce(%(new_run_at)s::timestamptz, %(now)s::timestamptz)
            ELSE j.run_at END,
        timeout = CASE WHEN %(set_timeout)s::boolean
            THEN %(new_timeout)s::double precision ELSE j.timeout END,
        tags = CASE WHEN %(set_tags)s::boolean
            THEN %(new_tags)s::text[] ELSE j.tags END,
        retry_delay = CASE WHEN %(set_retry_delay)s::boolean
            THEN %(new_retry_delay)s::double precision ELSE j.retry_delay END,
        retry_backoff = CASE WHEN %(set_retry_backoff)s::boolean
            THEN %(new_retry_backoff)s::boolean ELSE j.retry_backoff END,
        retry_delay_max = CASE WHEN %(set_retry_delay_max)s::boolean
            THEN %(new_retry_delay_max)s::double precision ELSE j.retry_delay_max END,
        dead_letter_job_type = CASE WHEN %(set_dead_letter_job_type)s::boolean
            THEN %(new_dead_letter_job_type)s::text ELSE j.dead_letter_job_type END,
        updated_at = %(now)s::timestamptz
    WHERE j.status = ANY (%(statuses)s::text[])
    AND (%(job_id)s::bigint IS NULL OR j.id = %(job_id)s::bigint)
    AND (%(status)s::text IS NULL OR j.status = %(status)s::text)
    AND {job_filter}
    RETURNING j.id
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'edited', %(now)s::timestamptz, %(metadata)s::jsonb
    FROM edited
    ORDER BY id
)
SELECT count(*) AS n FROM edited
