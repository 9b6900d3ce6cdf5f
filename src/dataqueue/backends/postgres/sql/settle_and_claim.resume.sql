-- settle_and_claim.resume: before a limited claim's walk, waiting jobs of
-- its job_types whose wait_until has come become pending (run_at =
-- wait_until) with a 'resumed' event, at most 1000 per call, as the plain
-- claim does for the ones it takes. Parameters: job_types (NULL: every
-- type), now.
WITH woken AS (
    UPDATE {schema}.job_queue AS j
    SET status = 'pending', run_at = j.wait_until, updated_at = %(now)s::timestamptz
    WHERE j.id IN (
        SELECT id FROM {schema}.job_queue
        WHERE status = 'waiting' AND wait_until <= %(now)s::timestamptz
            AND (%(job_types)s::text[] IS NULL OR job_type = ANY (%(job_types)s::text[]))
        ORDER BY wait_until
        LIMIT 1000
        FOR UPDATE SKIP LOCKED
    )
    RETURNING j.id, j.wait_until
)
INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
SELECT id, 'resumed', %(now)s::timestamptz, jsonb_build_object(
    'wait_until',
    to_char(wait_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE
        WHEN mod(extract(microseconds FROM wait_until)::bigint, 1000000) <> 0
        THEN to_char(wait_until AT TIME ZONE 'UTC', '.US') ELSE ''
    END
    || '+00:00'
)
FROM woken
