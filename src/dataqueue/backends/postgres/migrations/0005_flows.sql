-- 0005_flows: flows (steps that run as ordinary jobs, a barrier, a join
-- enqueued once) and the registry of live workers. The flows and workers
-- tables of 0001 were placeholders that nothing ever wrote; they are
-- replaced by the shapes the store uses.
-- Formatted with the schema identifier; no parameters. Existing jobs keep
-- their values (no flow step, no entity).
--
-- * job_queue.entity: the domain object a job works on, a JSON object with
--   "id" and "type" (json, read back as given); it replaces the unused
--   entity_id and entity_type of 0001. flow_step_index exists since 0001.
-- * flows: a flow is running, then ready (its barrier met, aborted or timed
--   out: its join is due), then joined (join_job_id set). seq numbers flows
--   in the order they were started (ids are random, and flows started in
--   the same instant share created_at): listings go by it. join_spec is the
--   join as the queue described it, kept as opaque text. remaining_steps
--   counts the steps without a recorded outcome.
-- * flow_steps: one row per step; outcome stays NULL until the step's job
--   finishes for good (success or fail). The barrier reaches it by the
--   job's (flow_id, flow_step_index), the primary key.
-- * record_flow_outcomes: THE barrier, called by every statement that makes
--   a job final (settle_and_claim, reclaim_stuck_jobs, cancel_job,
--   cancel_jobs) in that same statement, only when a flow step is among its
--   jobs. It locks the running flows concerned (in id order, so that two
--   callers cannot deadlock), records each outcome the step does not have
--   yet, and decrements remaining_steps by what it recorded. A flow becomes
--   ready at 0, or at its first fail under the abort policy (aborted). A
--   flow no longer running is not locked, so its late outcomes are not
--   recorded. Each query of a volatile function takes a fresh snapshot, and
--   a flow locked after a concurrent barrier committed is re-read at its
--   latest version: two steps settled at once from two connections
--   decrement twice, and only the call that reaches 0 sees the flow become
--   ready. Returns the ids of the flows it made ready. PL/pgSQL, not SQL:
--   the planner would parse a SQL function's body, to see whether it can be
--   inlined, each time it plans a statement that calls it (settle_and_claim
--   is planned on every call), and PL/pgSQL keeps the body's plan for the
--   session.
-- * workers: one row per registered processor, refreshed by heartbeats.
-- The indexes serve: a running flow's deadline (time_out_flows), ready
-- flows oldest first (get_ready_flows), flows newest first (list_flows, on
-- seq's unique index). None of them covers remaining_steps or updated_at, so a barrier that
-- leaves a flow running updates it in place (HOT).

ALTER TABLE {schema}.job_queue
    ADD COLUMN entity JSON,
    DROP COLUMN entity_id,
    DROP COLUMN entity_type;

DROP TABLE {schema}.flows;
DROP TABLE {schema}.workers;

CREATE TABLE {schema}.flows (
    id TEXT PRIMARY KEY,
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('running', 'ready', 'joined')),
    failure_policy TEXT NOT NULL CHECK (failure_policy IN ('continue', 'abort')),
    total_steps INTEGER NOT NULL,
    remaining_steps INTEGER NOT NULL,
    aborted BOOLEAN NOT NULL DEFAULT false,
    timed_out BOOLEAN NOT NULL DEFAULT false,
    timeout_at TIMESTAMPTZ,
    join_job_type TEXT NOT NULL,
    join_spec TEXT NOT NULL,
    join_job_id BIGINT,
    entity JSON,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX flows_timeout_idx ON {schema}.flows (timeout_at)
    WHERE status = 'running' AND timeout_at IS NOT NULL;
CREATE INDEX flows_ready_idx ON {schema}.flows (seq) WHERE status = 'ready';

CREATE TABLE {schema}.flow_steps (
    flow_id TEXT NOT NULL REFERENCES {schema}.flows (id) ON DELETE CASCADE,
    step_index INTEGER NOT NULL,
    job_id BIGINT NOT NULL,
    outcome TEXT CHECK (outcome IN ('success', 'fail')),
    PRIMARY KEY (flow_id, step_index)
);

CREATE FUNCTION {schema}.record_flow_outcomes(
    flow_ids TEXT[], step_indexes INTEGER[], outcomes TEXT[], changed_at TIMESTAMPTZ
) RETURNS TEXT[]
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
    ready TEXT[];
BEGIN
WITH reported AS (
    SELECT *
    FROM unnest(flow_ids, step_indexes, outcomes) AS r (flow_id, step_index, outcome)
),
open_flows AS MATERIALIZED (
    SELECT f.id
    FROM {schema}.flows AS f
    WHERE f.id IN (SELECT flow_id FROM reported) AND f.status = 'running'
    ORDER BY f.id
    FOR UPDATE
),
recorded AS (
    UPDATE {schema}.flow_steps AS s
    SET outcome = r.outcome
    FROM reported AS r
    JOIN open_flows AS o ON o.id = r.flow_id
    WHERE s.flow_id = r.flow_id
        AND s.step_index = r.step_index
        AND s.outcome IS NULL
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

CREATE TABLE {schema}.workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    last_heartbeat TIMESTAMPTZ NOT NULL,
    job_types TEXT[],
    concurrency INTEGER NOT NULL,
    running_job_ids BIGINT[] NOT NULL
);
