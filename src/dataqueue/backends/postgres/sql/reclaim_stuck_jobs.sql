-- reclaim_stuck_jobs: take back processing jobs whose lease was not
-- refreshed for longer than the threshold, or than their own timeout when
-- that is longer: their worker is gone, and the lost attempt counts.
-- A job with attempts left goes back to pending, due now (behind the jobs
-- already waiting), with a 'retried' event naming the worker that held it:
-- reclaimed_template's two parts with the worker's id as JSON (null when
-- it has none) between them.
-- A job that used max_attempts fails for good with failure_reason
-- lost_reason, lost_error appended to error_history and a 'failed' event
-- with lost_metadata (all built in Python, _transitions.py).
-- A job failed for good is final: a flow step's lost_outcome goes to the
-- barrier
-- (record_flow_outcomes, migrations/0007_abort_barrier.sql) and one NOTIFY on
-- finished_channel says that jobs finished.
-- Both clear the lock and the lease. Locked rows are skipped: their worker
-- is settling them right now.
-- Ages are compared as seconds in double precision, never as now minus an
-- interval, so no job's timeout (1e12 s, say) can push a timestamp out of
-- range and fail the statement for the whole queue. The processing index
-- keeps the scan to processing jobs.
-- Parameters: now, threshold (seconds), lost_error (JSON text),
-- lost_reason, lost_metadata (JSON text), lost_outcome, reclaimed_template
-- (a text[] of two: the JSON text of the 'retried' event before and after
-- the worker's id), finished_channel.
-- Returns ids (the jobs taken back, in id order), finished (1 when one
-- failed for good, else 0), ready_flows (the flows made ready, or NULL;
-- the supervisor finds them with get_ready_flows) and lettered (the jobs
-- failed for good that name a dead_letter_job_type, in id order: the caller
-- adds their dead letters in the same transaction, see
-- reclaim_stuck_jobs.letters.sql).
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
            THEN j.error_history || jsonb_build_array(%(lost_error)s::jsonb)
            ELSE j.error_history END,
        failure_reason = CASE WHEN stuck.spent
            THEN %(lost_reason)s::text ELSE j.failure_reason END,
        last_failed_at = CASE WHEN stuck.spent
            THEN %(now)s::timestamptz ELSE j.last_failed_at END,
        next_attempt_at = NULL,
        locked_by = NULL,
        locked_at = NULL,
        lease_token = NULL,
        updated_at = %(now)s::timestamptz
    FROM stuck
    WHERE j.id = stuck.id
    RETURNING j.id, stuck.locked_by, stuck.spent, j.flow_id, j.flow_step_index,
        j.dead_letter_job_type IS NOT NULL AS letter
),
ready_flows AS (
    SELECT {schema}.record_flow_outcomes(
        array_agg(flow_id ORDER BY id), array_agg(flow_step_index ORDER BY id),
        array_agg(%(lost_outcome)s::text), %(now)s::timestamptz
    ) AS ids
    FROM reclaimed
    WHERE spent AND flow_step_index IS NOT NULL
    HAVING count(*) > 0
),
finished_signal AS (
    SELECT pg_notify(%(finished_channel)s::text, '')
    FROM (SELECT 1 FROM reclaimed WHERE spent LIMIT 1) AS any_finished
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id,
        CASE WHEN spent THEN 'failed' ELSE 'retried' END,
        %(now)s::timestamptz,
        CASE WHEN spent
            THEN %(lost_metadata)s::jsonb
            ELSE ((%(reclaimed_template)s::text[])[1]
                || coalesce(to_jsonb(locked_by)::text, 'null')
                || (%(reclaimed_template)s::text[])[2])::jsonb
        END
    FROM reclaimed
    ORDER BY id
)
SELECT (
        SELECT coalesce(array_agg(id ORDER BY id), ARRAY[]::bigint[]) FROM reclaimed
    ) AS ids,
    (SELECT count(*) FROM finished_signal) AS finished,
    (SELECT ids FROM ready_flows) AS ready_flows,
    (
        SELECT coalesce(array_agg(id ORDER BY id), ARRAY[]::bigint[])
        FROM reclaimed
        WHERE spent AND letter
    ) AS lettered
