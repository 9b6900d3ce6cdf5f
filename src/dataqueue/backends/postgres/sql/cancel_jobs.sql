-- cancel_jobs: every job in one of statuses (pending, waiting) matching the
-- filters becomes cancelled, each with a 'cancelled' event with metadata;
-- their tokens still waiting become timed_out. Cancelled jobs are final:
-- the flow steps among them report outcome to the barrier (record_flow_outcomes,
-- migrations/0007_abort_barrier.sql), and one NOTIFY on finished_channel says that
-- jobs finished.
-- The filter's parameters (get_jobs.filter), and status (NULL: any).
-- Also: statuses (text[]), metadata (JSON text), outcome, now,
-- finished_channel. Returns ids (the jobs cancelled, in id
-- order), finished (1 when any were) and ready_flows (the flows made
-- ready, or NULL; the supervisor finds them with get_ready_flows).
WITH cancelled AS (
    UPDATE {schema}.job_queue AS j
    SET status = 'cancelled',
        last_cancelled_at = %(now)s::timestamptz,
        locked_by = NULL,
        locked_at = NULL,
        updated_at = %(now)s::timestamptz
    WHERE j.status = ANY (%(statuses)s::text[])
    AND (%(status)s::text IS NULL OR j.status = %(status)s::text)
    AND {job_filter}
    RETURNING j.id, j.flow_id, j.flow_step_index
),
expired AS (
    UPDATE {schema}.waitpoints
    SET status = 'timed_out', completed_at = %(now)s::timestamptz
    WHERE job_id IN (SELECT id FROM cancelled) AND status = 'waiting'
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'cancelled', %(now)s::timestamptz, %(metadata)s::jsonb
    FROM cancelled
    ORDER BY id
),
ready_flows AS (
    SELECT {schema}.record_flow_outcomes(
        array_agg(flow_id ORDER BY id), array_agg(flow_step_index ORDER BY id),
        array_agg(%(outcome)s::text), %(now)s::timestamptz
    ) AS ids
    FROM cancelled
    WHERE flow_step_index IS NOT NULL
    HAVING count(*) > 0
),
finished_signal AS (
    SELECT pg_notify(%(finished_channel)s::text, '')
    FROM (SELECT 1 FROM cancelled LIMIT 1) AS any_finished
)
SELECT (
        SELECT coalesce(array_agg(id ORDER BY id), ARRAY[]::bigint[]) FROM cancelled
    ) AS ids,
    (SELECT count(*) FROM finished_signal) AS finished,
    (SELECT ids FROM ready_flows) AS ready_flows
