-- claim_batch: move up to batch_size due jobs to processing for one worker.
-- Due: pending with run_at reached, or failed with next_attempt_at reached.
-- FOR UPDATE SKIP LOCKED lets concurrent workers claim disjoint batches.
-- The two kinds are read separately so that pending jobs come straight
-- off the claim index in claim order (an OR of both would sort every due
-- job); rows locked but not kept are released when the statement ends.
-- Parameters: worker_id, batch_size, job_types (text[] or NULL for any),
-- now. Returns the claimed jobs in claim order.
WITH pending_due AS (
    SELECT id, priority, run_at
    FROM {schema}.job_queue
    WHERE status = 'pending'
        AND run_at <= %(now)s::timestamptz
        AND (%(job_types)s::text[] IS NULL OR job_type = ANY (%(job_types)s::text[]))
    ORDER BY priority DESC, run_at, id
    LIMIT %(batch_size)s::integer
    FOR UPDATE SKIP LOCKED
),
retry_due AS (
    SELECT id, priority, run_at
    FROM {schema}.job_queue
    WHERE status = 'failed'
        AND next_attempt_at <= %(now)s::timestamptz
        AND (%(job_types)s::text[] IS NULL OR job_type = ANY (%(job_types)s::text[]))
    ORDER BY priority DESC, run_at, id
    LIMIT %(batch_size)s::integer
    FOR UPDATE SKIP LOCKED
),
due AS (
    SELECT candidates.id
    FROM (
        SELECT * FROM pending_due
        UNION ALL
        SELECT * FROM retry_due
    ) AS candidates
    ORDER BY candidates.priority DESC, candidates.run_at, candidates.id
    LIMIT %(batch_size)s::integer
),
claimed AS (
    UPDATE {schema}.job_queue AS j
    SET status = 'processing',
        locked_by = %(worker_id)s::text,
        locked_at = %(now)s::timestamptz,
        attempts = j.attempts + 1,
        started_at = coalesce(j.started_at, %(now)s::timestamptz),
        next_attempt_at = NULL,
        pending_reason = NULL,
        updated_at = %(now)s::timestamptz
    FROM due
    WHERE j.id = due.id
    RETURNING j.*
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'processing', %(now)s::timestamptz,
        jsonb_build_object('worker_id', locked_by, 'attempt', attempts)
    FROM claimed
    ORDER BY priority DESC, run_at, id
)
SELECT * FROM claimed ORDER BY priority DESC, run_at, id
