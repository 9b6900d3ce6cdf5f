-- 0001_initial: every table dataqueue uses, created in one go so later
-- features (tokens, cron, flows, workers, projections) need no new tables.
-- Formatted with the schema identifier; no parameters.

CREATE TABLE {schema}.job_queue (
    id BIGSERIAL PRIMARY KEY,
    job_type TEXT NOT NULL,
    payload JSONB,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (
        status IN ('pending', 'processing', 'completed', 'failed', 'cancelled', 'waiting')
    ),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    locked_at TIMESTAMPTZ,
    locked_by TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    next_attempt_at TIMESTAMPTZ,
    priority INTEGER NOT NULL DEFAULT 0,
    run_at TIMESTAMPTZ NOT NULL,
    pending_reason TEXT,
    error_history JSONB NOT NULL DEFAULT '[]',
    timeout DOUBLE PRECISION,
    force_kill_on_timeout BOOLEAN NOT NULL DEFAULT false,
    failure_reason TEXT CHECK (failure_reason IN ('timeout', 'handler_error', 'no_handler')),
    completed_at TIMESTAMPTZ,
    started_at TIMESTAMPTZ,
    last_retried_at TIMESTAMPTZ,
    last_failed_at TIMESTAMPTZ,
    last_cancelled_at TIMESTAMPTZ,
    tags TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    idempotency_key TEXT UNIQUE,
    progress SMALLINT CHECK (progress BETWEEN 0 AND 100),
    output JSONB,
    step_data JSONB,
    retry_delay DOUBLE PRECISION,
    retry_backoff BOOLEAN,
    retry_delay_max DOUBLE PRECISION,
    wait_until TIMESTAMPTZ,
    wait_token_id TEXT,
    flow_id TEXT,
    flow_step_index INTEGER,
    entity_id TEXT,
    entity_type TEXT
);

-- claim_batch walks this index in claim order.
CREATE INDEX job_queue_claim_idx ON {schema}.job_queue (priority DESC, run_at, id)
    WHERE status = 'pending';
CREATE INDEX job_queue_retry_idx ON {schema}.job_queue (next_attempt_at)
    WHERE status = 'failed' AND next_attempt_at IS NOT NULL;
CREATE INDEX job_queue_reclaim_idx ON {schema}.job_queue (locked_at)
    WHERE status = 'processing';
CREATE INDEX job_queue_wait_until_idx ON {schema}.job_queue (wait_until)
    WHERE status = 'waiting' AND wait_until IS NOT NULL;
CREATE INDEX job_queue_wait_token_idx ON {schema}.job_queue (wait_token_id)
    WHERE status = 'waiting' AND wait_token_id IS NOT NULL;
CREATE INDEX job_queue_cleanup_idx ON {schema}.job_queue (status, updated_at);
CREATE INDEX job_queue_job_type_idx ON {schema}.job_queue (job_type);
CREATE INDEX job_queue_flow_idx ON {schema}.job_queue (flow_id) WHERE flow_id IS NOT NULL;
CREATE INDEX job_queue_tags_idx ON {schema}.job_queue USING GIN (tags);

CREATE TABLE {schema}.job_events (
    id BIGSERIAL PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES {schema}.job_queue (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    metadata JSONB
);

CREATE INDEX job_events_job_id_idx ON {schema}.job_events (job_id);
CREATE INDEX job_events_created_at_idx ON {schema}.job_events (created_at);

-- Tokens (waitpoints) outlive the job that created them, hence SET NULL.
CREATE TABLE {schema}.waitpoints (
    id TEXT PRIMARY KEY,
    job_id BIGINT REFERENCES {schema}.job_queue (id) ON DELETE SET NULL,
    status TEXT NOT NULL DEFAULT 'waiting' CHECK (
        status IN ('waiting', 'completed', 'timed_out')
    ),
    output JSONB,
    timeout_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ,
    tags TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[]
);

CREATE INDEX waitpoints_timeout_idx ON {schema}.waitpoints (timeout_at)
    WHERE status = 'waiting' AND timeout_at IS NOT NULL;
CREATE INDEX waitpoints_job_id_idx ON {schema}.waitpoints (job_id);

CREATE TABLE {schema}.cron_schedules (
    id BIGSERIAL PRIMARY KEY,
    schedule_name TEXT NOT NULL UNIQUE,
    cron_expression TEXT NOT NULL,
    job_type TEXT NOT NULL,
    payload JSONB,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    allow_overlap BOOLEAN NOT NULL DEFAULT false,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    max_attempts INTEGER NOT NULL DEFAULT 3,
    priority INTEGER NOT NULL DEFAULT 0,
    timeout DOUBLE PRECISION,
    tags TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    retry_delay DOUBLE PRECISION,
    retry_backoff BOOLEAN,
    retry_delay_max DOUBLE PRECISION,
    last_enqueued_at TIMESTAMPTZ,
    last_job_id BIGINT,
    next_run_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX cron_schedules_due_idx ON {schema}.cron_schedules (next_run_at)
    WHERE status = 'active';

CREATE TABLE {schema}.flows (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    failure_policy TEXT NOT NULL CHECK (failure_policy IN ('continue', 'abort')),
    timeout_at TIMESTAMPTZ,
    join_spec JSONB NOT NULL,
    join_job_id BIGINT,
    step_count INTEGER NOT NULL DEFAULT 0,
    finished_count INTEGER NOT NULL DEFAULT 0,
    entity_id TEXT,
    entity_type TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);

CREATE INDEX flows_timeout_idx ON {schema}.flows (timeout_at)
    WHERE finished_at IS NULL AND timeout_at IS NOT NULL;

CREATE TABLE {schema}.workers (
    worker_id TEXT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    last_heartbeat TIMESTAMPTZ NOT NULL,
    job_types TEXT[]
);
