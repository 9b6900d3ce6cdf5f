-- release_jobs: give jobs back unfinished (their worker is shutting down).
-- Each job still held under its lease becomes pending, due now (an earlier
-- run_at is kept, so it keeps its place in line), with its
-- attempt restored (this attempt never ran to an end), the lock and lease
-- cleared, and a 'retried' event naming the worker that gave it back:
-- released_template's two parts with the worker's id as JSON (null when
-- it has none) between them.
-- The held rows are locked first to read who held them (RETURNING only
-- sees the new values).
-- Parameters: ids, tokens (the leases, as two parallel arrays), now,
-- released_template (a text[] of two, _transitions.metadata_template).
-- Returns how many jobs were released.
WITH held AS (
    SELECT j.id, j.locked_by
    FROM {schema}.job_queue AS j
    JOIN unnest(%(ids)s::bigint[], %(tokens)s::text[]) AS l (id, token)
        ON j.id = l.id AND j.lease_token = l.token
    WHERE j.status = 'processing'
    FOR UPDATE OF j
),
released AS (
    UPDATE {schema}.job_queue AS j
    SET status = 'pending',
        run_at = least(j.run_at, %(now)s::timestamptz),
        attempts = greatest(j.attempts - 1, 0),
        locked_by = NULL,
        locked_at = NULL,
        lease_token = NULL,
        updated_at = %(now)s::timestamptz
    FROM held
    WHERE j.id = held.id
    RETURNING j.id, held.locked_by
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'retried', %(now)s::timestamptz,
        ((%(released_template)s::text[])[1]
            || coalesce(to_jsonb(locked_by)::text, 'null')
            || (%(released_template)s::text[])[2])::jsonb
    FROM released
    ORDER BY id
)
SELECT count(*) AS n FROM released
