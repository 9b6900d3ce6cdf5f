-- complete_token.resume: the jobs waiting on tokens just completed or
-- expired become pending and due now, with a 'resumed' event, and idle
-- processors are woken (pg_notify, at commit). Run after the token change,
-- in its transaction (see complete_token.sql); expire_timed_out_tokens runs
-- it too. wait_token_id stays, as the record of the job's last wait.
-- Parameters: token_ids (text[]), events (text[]: the 'resumed' event of
-- the job waiting on each token, JSON text), now, channel.
-- Returns how many jobs were resumed.
WITH resumed AS (
    UPDATE {schema}.job_queue
    SET status = 'pending', run_at = %(now)s::timestamptz,
        updated_at = %(now)s::timestamptz
    WHERE status = 'waiting' AND wait_token_id = ANY (%(token_ids)s::text[])
    RETURNING id, wait_token_id
),
events AS (
    SELECT * FROM unnest(%(token_ids)s::text[], %(events)s::text[]) AS e (token_id, metadata)
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT r.id, 'resumed', %(now)s::timestamptz, e.metadata::jsonb
    FROM resumed AS r
    JOIN events AS e ON e.token_id = r.wait_token_id
    ORDER BY r.id
),
woken AS (
    SELECT pg_notify(%(channel)s::text, '') FROM (SELECT 1 FROM resumed LIMIT 1) AS any_resumed
)
SELECT (SELECT count(*) FROM resumed) AS n, (SELECT count(*) FROM woken) AS woken
