-- settle_and_claim.hold: mark the jobs a limited claim's walk held:
-- pending_reason and a 'held' event with its metadata (built in Python).
-- Parameters: ids (bigint[]), reasons (text[]), metadata (JSON text[]), now.
WITH held AS (
    UPDATE {schema}.job_queue AS j
    SET pending_reason = h.reason, updated_at = %(now)s::timestamptz
    FROM unnest(%(ids)s::bigint[], %(reasons)s::text[], %(metadata)s::text[])
        AS h (id, reason, metadata)
    WHERE j.id = h.id AND j.status = 'pending'
        AND j.pending_reason IS DISTINCT FROM 'dependency'
    RETURNING j.id, h.metadata
)
INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
SELECT id, 'held', %(now)s::timestamptz, metadata::jsonb FROM held ORDER BY id
