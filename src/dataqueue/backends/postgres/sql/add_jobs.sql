-- add_jobs: insert a batch of jobs and their 'added' events in one statement.
-- A job whose idempotency_key is taken gets the existing job's id; within
-- the batch, the first spec with a key wins and later ones share its id.
-- ON CONFLICT DO UPDATE (not DO NOTHING) so that a key inserted by a
-- concurrent, not yet committed transaction is waited for and its id
-- returned: a plain SELECT would not see it in this statement's snapshot.
-- Ids are drawn from the sequence up front, in spec order, so each spec
-- knows its id. Rows are inserted in key order, so that two batches taking
-- the same keys wait for each other in the same order instead of
-- deadlocking. pg_notify wakes listeners when the transaction commits.
-- Parameters: jobs (JSON array of NewJob objects, run_at as ISO text or
-- null), now, schema (for the sequence name), channel (the NOTIFY channel).
-- Returns one row per spec, in spec order: ord, id.
WITH input AS (
    SELECT t.doc, t.ord, t.doc ->> 'idempotency_key' AS key
    FROM jsonb_array_elements(%(jobs)s::jsonb) WITH ORDINALITY AS t (doc, ord)
),
fresh AS (
    SELECT
        firsts.doc,
        firsts.ord,
        firsts.key,
        nextval(format('%%I.job_queue_id_seq', %(schema)s::text)::regclass) AS id
    FROM (
        SELECT i.doc, i.ord, i.key
        FROM input AS i
        WHERE i.key IS NULL
            OR i.ord = (SELECT min(o.ord) FROM input AS o WHERE o.key = i.key)
        ORDER BY i.ord
    ) AS firsts
),
saved AS (
    INSERT INTO {schema}.job_queue AS j (
        id, job_type, payload, status, created_at, updated_at, run_at, priority,
        max_attempts, timeout, force_kill_on_timeout, tags, idempotency_key,
        retry_delay, retry_backoff, retry_delay_max, flow_id
    )
    SELECT
        f.id,
        f.doc ->> 'job_type',
        f.doc -> 'payload',
        'pending',
        %(now)s::timestamptz,
        %(now)s::timestamptz,
        coalesce((f.doc ->> 'run_at')::timestamptz, %(now)s::timestamptz),
        (f.doc ->> 'priority')::integer,
        (f.doc ->> 'max_attempts')::integer,
        (f.doc ->> 'timeout')::double precision,
        (f.doc ->> 'force_kill_on_timeout')::boolean,
        ARRAY(SELECT jsonb_array_elements_text(f.doc -> 'tags')),
        f.key,
        (f.doc ->> 'retry_delay')::double precision,
        (f.doc ->> 'retry_backoff')::boolean,
        (f.doc ->> 'retry_delay_max')::double precision,
        f.doc ->> 'flow_id'
    FROM fresh AS f
    ORDER BY f.key, f.id
    ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = excluded.idempotency_key
    RETURNING j.id, j.job_type, j.idempotency_key
),
added AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT s.id, 'added', %(now)s::timestamptz, jsonb_build_object('job_type', s.job_type)
    FROM saved AS s
    JOIN fresh AS f ON f.id = s.id
    ORDER BY s.id
    RETURNING job_id
),
notified AS (
    SELECT pg_notify(%(channel)s::text, '') FROM (SELECT 1 FROM added LIMIT 1) AS any_added
)
SELECT
    i.ord,
    coalesce(
        (SELECT s.id FROM saved AS s WHERE s.idempotency_key = i.key),
        (SELECT f.id FROM fresh AS f WHERE f.ord = i.ord)
    ) AS id
FROM input AS i
LEFT JOIN notified ON true
ORDER BY i.ord
