-- reclaim_stuck_jobs: take back processing jobs whose lease was not
-- refreshed for longer than the threshold, or than their own timeout when
-- that is longer: their worker is gone, and the lost attempt counts.
-- A job with attempts left goes back to pending, due now (behind the jobs
-- already waiting), with a 'retried' event naming the worker that held it.
-- A job that used max_attempts fails for good with failure_reason
-- worker_lost, the message appended to error_history and a 'failed' event.
-- Both clear the lock and the lease. Locked rows are skipped: their worker
-- is settling them right now.
-- Ages are compared as seconds in double precision, never as now minus an
-- interval, so no job's timeout (1e12 s, say) can push a timestamp out of
-- range and fail the statement for the whole queue. The processing index
-- keeps the scan to processing jobs.
-- Parameters: now, now_iso (now as ISO text), threshold (seconds), message.
-- Returns how many jobs changed.
WITH stuck AS (
    SELECT id, locked_by, attempts >= max_attempts AS spent
    FROM {schema}.job_queue
    WHERE status = 'processing'
        AND extract(epoch FROM %(now)s::timestamptz)::double precision
            - extract(epoch FROM locked_at)::double precision
            > greatest(%(threshold)s::double precision, coalesce(timeout, 0))
    FOR UPDATE SKIP LOCKED
),
reclaimed AS (
    UPDATE {schema}.job_queue AS j
    SET status = CASE WHEN stuck.spent THEN 'failed' ELSE 'pending' END,
        run_at = CASE WHEN stuck.spent THEN j.run_at ELSE %(now)s::timestamptz END,
        error_history = CASE WHEN stuck.spent
            THEN j.error_history || jsonb_build_array(jsonb_build_object(
                'message', %(message)s::text, 'timestamp', %(now_iso)s::text
            ))
            ELSE j.error_history END,
        failure_reason = CASE WHEN stuck.spent
            THEN 'worker_lost' ELSE j.failure_reason END,
        last_failed_at = CASE WHEN stuck.spent
            THEN %(now)s::timestamptz ELSE j.last_failed_at END,
        next_attempt_at = NULL,
        locked_by = NULL,
        locked_at = NULL,
        lease_token = NULL,
        updated_at = %(now)s::timestamptz
    FROM stuck
    WHERE j.id = stuck.id
    RETURNING j.id, stuck.locked_by, stuck.spent
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id,
        CASE WHEN spent THEN 'failed' ELSE 'retried' END,
        %(now)s::timestamptz,
        CASE WHEN spent
            THEN jsonb_build_object(
                'message', %(message)s::text,
                'failure_reason', 'worker_lost',
                'next_attempt_at', NULL
            )
            ELSE jsonb_build_object('reclaimed_from', locked_by)
        END
    FROM reclaimed
    ORDER BY id
)
SELECT count(*) AS n FROM reclaimed
