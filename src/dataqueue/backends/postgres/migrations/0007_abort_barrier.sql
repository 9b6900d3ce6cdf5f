-- 0007_abort_barrier: record_flow_outcomes takes a call's outcomes in the
-- order given, as the other stores' barriers do: under the abort policy a
-- flow's first fail makes it ready and the outcomes reported after it in
-- the same call are not recorded (its flow is no longer running), where
-- 0005 recorded every outcome of the call. Callers pass the outcomes in a
-- defined order: settle_and_claim by their place in the batch,
-- reclaim_stuck_jobs, cancel_job and cancel_jobs by job id.
-- The running flows concerned are locked first (in id order, so that two
-- callers cannot deadlock), by a statement of their own: the next one
-- takes a fresh snapshot, so it sees the outcomes a concurrent barrier
-- committed before the lock was granted, and picks each flow's first fail
-- among the steps that still have no outcome. Returns the ids of the flows
-- it made ready.
-- Formatted with the schema identifier; no parameters.

CREATE OR REPLACE FUNCTION {schema}.record_flow_outcomes(
    flow_ids TEXT[], step_indexes INTEGER[], outcomes TEXT[], changed_at TIMESTAMPTZ
) RETURNS TEXT[]
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
    running TEXT[];
    ready TEXT[];
BEGIN
SELECT array_agg(locked.id) INTO running
FROM (
    SELECT f.id
    FROM {schema}.flows AS f
    WHERE f.id = ANY (flow_ids) AND f.status = 'running'
    ORDER BY f.id
    FOR UPDATE
) AS locked;
IF running IS NULL THEN
    RETURN ARRAY[]::TEXT[];
END IF;
WITH fresh AS (
    SELECT r.flow_id, r.step_index, r.outcome, r.place, f.failure_policy,
        min(r.place) FILTER (WHERE r.outcome = 'fail')
            OVER (PARTITION BY r.flow_id) AS first_fail
    FROM unnest(flow_ids, step_indexes, outcomes) WITH ORDINALITY
        AS r (flow_id, step_index, outcome, place)
    JOIN {schema}.flows AS f ON f.id = r.flow_id
    JOIN {schema}.flow_steps AS s
        ON s.flow_id = r.flow_id AND s.step_index = r.step_index
    WHERE r.flow_id = ANY (running) AND s.outcome IS NULL
),
recorded AS (
    UPDATE {schema}.flow_steps AS s
    SET outcome = r.outcome
    FROM fresh AS r
    WHERE s.flow_id = r.flow_id
        AND s.step_index = r.step_index
        AND s.outcome IS NULL
        AND (r.failure_policy <> 'abort' OR r.place <= coalesce(r.first_fail, r.place))
    RETURNING s.flow_id, s.outcome
),
tallied AS (
    SELECT flow_id, count(*)::integer AS n, bool_or(outcome = 'fail') AS failed
    FROM recorded
    GROUP BY flow_id
),
changed AS (
    UPDATE {schema}.flows AS f
    SET remaining_steps = f.remaining_steps - t.n,
        aborted = f.failure_policy = 'abort' AND t.failed,
        status = CASE
            WHEN f.remaining_steps - t.n <= 0 OR (f.failure_policy = 'abort' AND t.failed)
            THEN 'ready' ELSE 'running'
        END,
        updated_at = changed_at
    FROM tallied AS t
    WHERE f.id = t.flow_id
    RETURNING f.id, f.status
)
SELECT coalesce(array_agg(id ORDER BY id) FILTER (WHERE status = 'ready'), ARRAY[]::TEXT[])
INTO ready
FROM changed;
RETURN ready;
END
$$;
