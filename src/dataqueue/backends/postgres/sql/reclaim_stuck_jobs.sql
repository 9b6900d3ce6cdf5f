-- reclaim_stuck_jobs: processing jobs locked for longer than the threshold,
-- or than their own timeout when that is longer, go back to pending; each
-- gets a 'retried' event naming the worker that held it. Locked rows are
-- skipped: their worker is finishing them right now.
-- Parameters: now, threshold (seconds). Returns how many jobs changed.
WITH stuck AS (
    SELECT id, locked_by
    FROM {schema}.job_queue
    WHERE status = 'processing'
        AND locked_at < %(now)s::timestamptz - make_interval(
            secs => greatest(%(threshold)s::double precision, coalesce(timeout, 0))
        )
    FOR UPDATE SKIP LOCKED
),
reclaimed AS (
    UPDATE {schema}.job_queue AS j
    SET status = 'pending',
        locked_by = NULL,
        locked_at = NULL,
        updated_at = %(now)s::timestamptz
    FROM stuck
    WHERE j.id = stuck.id
    RETURNING j.id, stuck.locked_by AS reclaimed_from
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'retried', %(now)s::timestamptz,
        jsonb_build_object('reclaimed_from', reclaimed_from)
    FROM reclaimed
    ORDER BY id
)
SELECT count(*) AS n FROM reclaimed
