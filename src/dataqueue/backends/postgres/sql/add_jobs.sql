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
-- events.
-- The specs come as one array per column (unnest: one pass, no per-row
-- lookups, so the cost stays linear in the batch); payloads as JSON text,
-- stored as json so that they read back exactly; tags as JSON arrays.
-- The arrays of JSON text (payloads, tags, entities, events) are sent in
-- binary (%b): as text, every element would be quoted and escaped on the
-- client, a third of an add's client time.
-- Parameters: sequence (the id sequence's qualified name), now, channel
-- (the NOTIFY channel) and one array per column: job_types, payloads,
-- priorities, run_ats (NULL: now), max_attempts, timeouts, force_kills,
-- tags, keys, retry_delays, retry_backoffs, retry_delay_maxes, flow_ids,
-- flow_step_indexes, entities (JSON text), cron_job_ids, cron_due_ats,
-- dead_letter_job_types, dedupe_keys, events (JSON text), group_ids.
-- Returns one row per spec, in spec order: id, created (false: a job that
-- already had its idempotency key).
WITH fresh AS (
    SELECT t.*, nextval(%(sequence)s::regclass) AS id
    FROM (
        SELECT *
        FROM unnest(
            %(job_types)s::text[],
            %(payloads)b::text[],
            %(priorities)s::integer[],
            %(run_ats)s::timestamptz[],
            %(max_attempts)s::integer[],
            %(timeouts)s::double precision[],
            %(force_kills)s::boolean[],
            %(tags)b::text[],
            %(keys)s::text[],
            %(retry_delays)s::double precision[],
            %(retry_backoffs)s::boolean[],
            %(retry_delay_maxes)s::double precision[],
            %(flow_ids)s::text[],
            %(flow_step_indexes)s::integer[],
            %(entities)b::text[],
            %(cron_job_ids)s::bigint[],
            %(cron_due_ats)s::timestamptz[],
            %(dead_letter_job_types)s::text[],
            %(dedupe_keys)s::text[],
            %(events)b::text[],
            %(group_ids)s::text[]
        ) WITH ORDINALITY AS u (
            job_type, payload, priority, run_at, max_attempts, timeout, force_kill,
            tags, key, retry_delay, retry_backoff, retry_delay_max, flow_id,
            flow_step_index, entity, cron_job_id, cron_due_at, dead_letter_job_type,
            dedupe_key, event, group_id, ord
        )
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
        CASE WHEN f.tags = '[]' THEN ARRAY[]::text[]
            ELSE ARRAY(SELECT json_array_elements_text(f.tags::json)) END,
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
    SELECT s.id, 'added', %(now)s::timestamptz,
        f.event::jsonb
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
