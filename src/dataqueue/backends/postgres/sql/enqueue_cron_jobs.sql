-- enqueue_cron_jobs: claim due times and insert their jobs, in one statement,
-- so that a due time and its job are one atomic step.
-- A tick is claimed by moving its schedule's next_run_at from claimed_run_at
-- to next_run_at; only a schedule that is still active and still has
-- claimed_run_at qualifies, so of any number of concurrent callers exactly
-- one claims each due time. Rows are locked in id order with SKIP LOCKED: a
-- schedule locked by another caller is being claimed (or edited) right now,
-- and waiting for it could only end in finding it claimed, or in deadlock.
-- The overlap check (allow_overlap false: no job of the schedule pending,
-- processing or waiting) is made in the same statement; a blocked due time is
-- still claimed, with no job, and counted in skipped_runs like the skipped
-- ones. Job ids are drawn from the sequence up front so that the schedule's
-- last_job_id is set in the same UPDATE.
-- Parameters: ticks (JSON array of objects with schedule_id, claimed_run_at,
-- due_at, skipped, next_run_at, job (a job document as in add_jobs) and event
-- (the 'added' event's metadata)), now, schema (for the sequence name), channel
-- (the NOTIFY channel). Returns the ids of the inserted jobs.
WITH input AS (
    SELECT
        (t ->> 'schedule_id')::bigint AS schedule_id,
        (t ->> 'claimed_run_at')::timestamptz AS claimed_run_at,
        (t ->> 'due_at')::timestamptz AS due_at,
        (t ->> 'skipped')::bigint AS skipped,
        (t ->> 'next_run_at')::timestamptz AS next_run_at,
        t -> 'job' AS job,
        t -> 'event' AS event
    FROM jsonb_array_elements(%(ticks)s::jsonb) AS t
),
locked AS (
    SELECT s.id, s.allow_overlap
    FROM {schema}.cron_schedules AS s
    JOIN input AS i ON i.schedule_id = s.id
    WHERE s.status = 'active' AND s.next_run_at = i.claimed_run_at
    ORDER BY s.id
    FOR UPDATE OF s SKIP LOCKED
),
decided AS (
    SELECT
        i.*,
        l.allow_overlap OR NOT EXISTS (
            SELECT 1
            FROM {schema}.job_queue AS j
            WHERE j.cron_job_id = l.id
                AND j.status IN ('pending', 'processing', 'waiting')
        ) AS fire
    FROM locked AS l
    JOIN input AS i ON i.schedule_id = l.id
),
claimed AS (
    UPDATE {schema}.cron_schedules AS s
    SET next_run_at = d.next_run_at,
        skipped_runs = s.skipped_runs + d.skipped
            + CASE WHEN d.fire THEN 0 ELSE 1 END,
        last_job_id = CASE WHEN d.fire
            THEN nextval(format('%%I.job_queue_id_seq', %(schema)s::text)::regclass)
            ELSE s.last_job_id END,
        last_enqueued_at = CASE WHEN d.fire
            THEN %(now)s::timestamptz ELSE s.last_enqueued_at END,
        updated_at = %(now)s::timestamptz
    FROM decided AS d
    WHERE s.id = d.schedule_id
    RETURNING s.id AS schedule_id, s.last_job_id AS job_id, d.fire, d.due_at,
        d.job, d.event
),
saved AS (
    INSERT INTO {schema}.job_queue (
        id, job_type, payload, status, created_at, updated_at, run_at, priority,
        max_attempts, timeout, force_kill_on_timeout, tags, retry_delay,
        retry_backoff, retry_delay_max, cron_job_id, cron_due_at
    )
    SELECT
        c.job_id,
        c.job ->> 'job_type',
        c.job -> 'payload',
        'pending',
        %(now)s::timestamptz,
        %(now)s::timestamptz,
        %(now)s::timestamptz,
        (c.job ->> 'priority')::integer,
        (c.job ->> 'max_attempts')::integer,
        (c.job ->> 'timeout')::double precision,
        (c.job ->> 'force_kill_on_timeout')::boolean,
        ARRAY(SELECT jsonb_array_elements_text(c.job -> 'tags')),
        (c.job ->> 'retry_delay')::double precision,
        (c.job ->> 'retry_backoff')::boolean,
        (c.job ->> 'retry_delay_max')::double precision,
        c.schedule_id,
        c.due_at
    FROM claimed AS c
    WHERE c.fire
    ORDER BY c.job_id
    RETURNING id
),
added AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT c.job_id, 'added', %(now)s::timestamptz, c.event
    FROM claimed AS c
    WHERE c.fire
    ORDER BY c.job_id
),
notified AS (
    SELECT pg_notify(%(channel)s::text, '') FROM (SELECT 1 FROM saved LIMIT 1) AS any_added
)
SELECT s.id
FROM saved AS s
LEFT JOIN notified ON true
ORDER BY s.id
