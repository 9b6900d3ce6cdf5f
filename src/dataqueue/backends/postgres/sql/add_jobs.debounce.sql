-- add_jobs.debounce: a debounced add while its key's job is still pending
-- (locked by add_jobs.dedupe_holder): the job takes the add's payload and
-- run_at (NULL: now), the key's hold is renewed, and the job gets a
-- 'deduplicated' event with the metadata built in Python.
-- Parameters: id, payload (JSON text), run_at, key, expires_at, metadata
-- (JSON text), now.
-- Returns the job's id when it moved (no row: it was no longer pending).
WITH moved AS (
    UPDATE {schema}.job_queue
    SET payload = %(payload)s::json,
        run_at = coalesce(%(run_at)s::timestamptz, %(now)s::timestamptz),
        updated_at = %(now)s::timestamptz
    WHERE id = %(id)s::bigint AND status = 'pending'
    RETURNING id
),
renewed AS (
    UPDATE {schema}.dedupe_keys
    SET expires_at = %(expires_at)s::timestamptz
    WHERE key = %(key)s::text AND EXISTS (SELECT 1 FROM moved)
)
INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
SELECT id, 'deduplicated', %(now)s::timestamptz, %(metadata)s::jsonb FROM moved
RETURNING job_id
