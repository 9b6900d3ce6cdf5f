-- settle_and_claim.take: the jobs a limited claim's walk took (locked by
-- settle_and_claim.candidates) move to processing as settle_and_claim's
-- claim does, with a 'released' event for a job that was held and then the
-- 'processing' one (both events' metadata from Python).
-- Parameters: ids (bigint[]), released (JSON text[], NULL where the job was
-- not held), processing (JSON text[]), worker_id, token, now. Returns
-- every column of the claimed jobs, in claim order.
WITH taken AS (
    SELECT *
    FROM unnest(%(ids)s::bigint[], %(released)s::text[], %(processing)s::text[])
        AS t (id, released, processing)
),
claimed AS (
    UPDATE {schema}.job_queue AS j
    SET status = 'processing',
        locked_by = %(worker_id)s::text,
        locked_at = %(now)s::timestamptz,
        lease_token = %(token)s::text,
        attempts = j.attempts + 1,
        started_at = coalesce(j.started_at, %(now)s::timestamptz),
        last_retried_at = CASE WHEN j.attempts > 0
            THEN %(now)s::timestamptz ELSE j.last_retried_at END,
        next_attempt_at = NULL,
        pending_reason = NULL,
        updated_at = %(now)s::timestamptz
    FROM taken AS t
    WHERE j.id = t.id
    RETURNING j.*, t.released, t.processing
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, event_type, %(now)s::timestamptz, metadata
    FROM (
        SELECT id, 1 AS step, 'released' AS event_type, released::jsonb AS metadata
        FROM claimed WHERE released IS NOT NULL
        UNION ALL
        SELECT id, 2, 'processing', processing::jsonb FROM claimed
    ) AS e
    ORDER BY id, step
)
SELECT * FROM claimed
ORDER BY priority DESC, run_at, id
