-- 0004_flows: flows, their steps, and the worker registry. The flows and
-- workers tables of 0001 were placeholders no version ever wrote to: they
-- are replaced by the shapes the flow barrier and the registry need.
-- A job remembers its place in its flow (flow_step_index, beside the
-- flow_id of 0001); its entity is 0001's entity_id and entity_type.
-- Applied inside BEGIN IMMEDIATE.

ALTER TABLE job_queue ADD COLUMN flow_step_index INTEGER;

DROP TABLE flows;

-- One row per flow. remaining_steps counts the steps with no outcome yet;
-- the barrier (flow_barrier.sql) makes the flow ready when it reaches 0, or
-- at the first fail under the abort policy. join_spec is opaque text kept
-- for the join. Booleans are 0/1.
CREATE TABLE flows (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL DEFAULT 'running' CHECK (
        status IN ('running', 'ready', 'joined')
    ),
    failure_policy TEXT NOT NULL CHECK (failure_policy IN ('continue', 'abort')),
    total_steps INTEGER NOT NULL,
    remaining_steps INTEGER NOT NULL,
    aborted INTEGER NOT NULL DEFAULT 0,
    timed_out INTEGER NOT NULL DEFAULT 0,
    timeout_at INTEGER,
    join_job_type TEXT NOT NULL,
    join_spec TEXT NOT NULL,
    join_job_id INTEGER,
    entity_id TEXT,
    entity_type TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX flows_status ON flows (status, created_at);
CREATE INDEX flows_created ON flows (created_at);
CREATE INDEX flows_timeout ON flows (timeout_at)
    WHERE status = 'running' AND timeout_at IS NOT NULL;

-- A flow's steps: the job of each, and the outcome the barrier recorded
-- (NULL until the step finishes for good while its flow runs).
CREATE TABLE flow_steps (
    flow_id TEXT NOT NULL,
    step_index INTEGER NOT NULL,
    job_id INTEGER NOT NULL,
    outcome TEXT CHECK (outcome IN ('success', 'fail')),
    PRIMARY KEY (flow_id, step_index)
) WITHOUT ROWID;

DROP TABLE workers;

-- Live processors. job_types is a JSON list (NULL: every type);
-- running_job_ids a JSON list of job ids, replaced by every heartbeat.
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    last_heartbeat INTEGER NOT NULL,
    job_types TEXT,
    concurrency INTEGER NOT NULL,
    running_job_ids TEXT NOT NULL DEFAULT '[]'
);

CREATE INDEX workers_heartbeat ON workers (last_heartbeat);
