-- cancel_job: a job in one of statuses (pending, waiting) becomes
-- cancelled; records a 'cancelled' event with metadata. Its tokens still
-- waiting become timed_out. A cancelled job is final: a flow step's outcome
-- goes to the barrier
-- (record_flow_outcomes, migrations/0007_abort_barrier.sql), and a NOTIFY on
-- finished_channel says that a job finished.
-- Parameters: job_id, statuses (text[]), metadata (JSON text), outcome,
-- now, finished_channel. Returns ids (the job's id
-- when it was cancelled, else empty), finished (1 when it was) and
-- ready_flows (the flows made ready, or NULL; the supervisor finds them
-- with get_ready_flows).
WITH cancelled AS (
    UPDATE {schema}.job_queue
    SET status = 'cancelled',
        last_cancelled_at = %(now)s::timestamptz,
        locked_by = NULL,
        locked_at = NULL,
        updated_at = %(now)s::timestamptz
    WHERE id = %(job_id)s::bigint AND status = ANY (%(statuses)s::text[])
    RETURNING id, flow_id, flow_step_index
),
expired AS (
    UPDATE {schema}.waitpoints
    SET status = 'timed_out', completed_at = %(now)s::timestamptz
    WHERE job_id IN (SELECT id FROM cancelled) AND status = 'waiting'
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'cancelled', %(now)s::timestamptz, %(metadata)s::jsonb FROM cancelled
),
ready_flows AS (
    SELECT {schema}.record_flow_outcomes(
        array_agg(flow_id), array_agg(flow_step_index), array_agg(%(outcome)s::text),
        %(now)s::timestamptz
    ) AS ids
    FROM cancelled
    WHERE flow_step_index IS NOT NULL
    HAVING count(*) > 0
),
finished_signal AS (
    SELECT pg_notify(%(finished_channel)s::text, '')
    FROM (SELECT 1 FROM cancelled LIMIT 1) AS any_finished
)
SELECT (SELECT coalesce(array_agg(id), ARRAY[]::bigint[]) FROM cancelled)
        AS ids,
    (SELECT count(*) FROM finished_signal) AS finished,
    (SELECT ids FROM ready_flows) AS ready_flows
