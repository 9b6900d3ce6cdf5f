-- add_jobs: insert a batch of jobs and their 'added' events in one statement.
-- A job whose idempotency_key is taken gets the existing job's id. The specs
-- come with distinct keys (the backend maps later specs sharing a key in
-- the batch to the first one's id).
-- ON CONFLICT DO UPDATE (not DO NOTHING) so that a key inserted by a
-- concurrent, not yet committed transaction is waited for and its id
-- returned: a plain SELECT would not see it in this statement's snapshot.
-- Ids are drawn from the sequence up front, in spec order, so each spec
-- knows its id. Rows are inserted in key order, so that two batches taking
-- the same keys wait for each other in the same order instead of
-- deadlocking. pg_notify wakes listeners when the transaction commits.
-- A job enqueued by a cron schedule (enqueue_cron_jobs runs this statement
-- inside its transaction) has its cron_job_id and cron_due_at; for the
-- other jobs those are NULL. Every job's 'added' event metadata is given in
-- its row's event.
-- The specs come as one JSON array (specs) of rows in spec order, each a
-- list in the column order below: one parameter, parsed once as jsonb and
-- read by position. Payloads and entities are strings holding their JSON
-- text, stored as json so that they read back exactly; tags a JSON array;
-- timestamps ISO text; events JSON objects.
-- Parameters: sequence (the id sequence's qualified name), now, channel
-- (the NOTIFY channel) and specs, whose rows hold: job_type, payload,
-- priority, run_at (NULL: now), max_attempts, timeout, force_kill, tags,
-- key, retry_delay, retry_backoff, retry_delay_max, flow_id,
-- flow_step_index, entity, cron_job_id, cron_due_at, dead_letter_job_type,
-- dedupe_key, event, group_id.
-- Returns one row per spec, in spec order: id, created (false: a job that
-- already had its idempotency key).
WITH fresh AS (
    SELECT t.*, nextval(%(sequence)s::regclass) AS id
    FROM (
        SELECT
            u.r ->> 0 AS job_type,
            u.r ->> 1 AS payload,
            (u.r ->> 2)::integer AS priority,
            (u.r ->> 3)::timestamptz AS run_at,
            (u.r ->> 4)::integer AS max_attempts,
            (u.r ->> 5)::double precision AS timeout,
            (u.r ->> 6)::boolean AS force_kill,
            u.r -> 7 AS tags,
            u.r ->> 8 AS key,
            (u.r ->> 9)::double precision AS retry_delay,
            (u.r ->> 10)::boolean AS retry_backoff,
            (u.r ->> 11)::double precision AS retry_delay_max,
            u.r ->> 12 AS flow_id,
            (u.r ->> 13)::integer AS flow_step_index,
            u.r ->> 14 AS entity,
            (u.r ->> 15)::bigint AS cron_job_id,
            (u.r ->> 16)::timestamptz AS cron_due_at,
            u.r ->> 17 AS dead_letter_job_type,
            u.r ->> 18 AS dedupe_key,
            u.r -> 19 AS event,
            u.r ->> 20 AS group_id,
            u.ord
        FROM jsonb_array_elements(%(specs)s::jsonb) WITH ORDINALITY AS u (r, ord)
        ORDER BY u.ord
    ) AS t
),
saved AS (
    INSERT INTO {schema}.job_queue AS j (
        id, job_type, payload, status, created_at, updated_at, run_at, priority,
        max_attempts, timeout, force_kill_on_timeout, tags, idempotency_key,
        retry_delay, retry_backoff, retry_delay_max, flow_id, flow_step_index,
        entity, cron_job_id, cron_due_at, dead_letter_job_type, dedupe_key, group_id
    )
    SELECT
        f.id,
        f.job_type,
        f.payload::json,
        'pending',
        %(now)s::timestamptz,
        %(now)s::timestamptz,
        coalesce(f.run_at, %(now)s::timestamptz),
        f.priority,
        f.max_attempts,
        f.timeout,
        f.force_kill,
        CASE WHEN f.tags = '[]'::jsonb THEN ARRAY[]::text[]
            ELSE ARRAY(SELECT jsonb_array_elements_text(f.tags)) END,
        f.key,
        f.retry_delay,
        f.retry_backoff,
        f.retry_delay_max,
        f.flow_id,
        f.flow_step_index,
        f.entity::json,
        f.cron_job_id,
        f.cron_due_at,
        f.dead_letter_job_type,
        f.dedupe_key,
        f.group_id
    FROM fresh AS f
    ORDER BY f.key, f.id
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL
        DO UPDATE SET idempotency_key = excluded.idempotency_key
    RETURNING j.id, j.job_type, j.idempotency_key
),
added AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT s.id, 'added', %(now)s::timestamptz, f.event
    FROM saved AS s
    JOIN fresh AS f ON f.id = s.id
    ORDER BY s.id
    RETURNING job_id
),
notified AS (
    SELECT pg_notify(%(channel)s::text, '') FROM (SELECT 1 FROM added LIMIT 1) AS any_added
)
SELECT coalesce(s.id, f.id) AS id, s.id IS NULL OR s.id = f.id AS created
FROM fresh AS f
LEFT JOIN saved AS s ON s.idempotency_key = f.key
LEFT JOIN notified ON true
ORDER BY f.ord
