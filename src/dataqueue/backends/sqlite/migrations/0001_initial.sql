-- 0001_initial: every table dataqueue needs, including those of later features
-- (tokens, cron, flows, workers), so that they never need a table rebuild.
-- Times are INTEGER microseconds since the Unix epoch (UTC): they sort, compare
-- and add exactly. JSON values are TEXT. Applied inside BEGIN IMMEDIATE.

CREATE TABLE job_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_type TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT 'null',
    status TEXT NOT NULL DEFAULT 'pending' CHECK (
        status IN ('pending', 'processing', 'completed', 'failed', 'cancelled', 'waiting')
    ),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    locked_at INTEGER,
    locked_by TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    next_attempt_at INTEGER,
    priority INTEGER NOT NULL DEFAULT 0,
    run_at INTEGER NOT NULL,
    pending_reason TEXT,
    error_history TEXT NOT NULL DEFAULT '[]',
    timeout REAL,
    force_kill_on_timeout INTEGER NOT NULL DEFAULT 0,
    failure_reason TEXT,
    completed_at INTEGER,
    started_at INTEGER,
    last_retried_at INTEGER,
    last_failed_at INTEGER,
    last_cancelled_at INTEGER,
    tags TEXT NOT NULL DEFAULT '[]',
    idempotency_key TEXT UNIQUE,
    progress INTEGER,
    output TEXT,
    step_data TEXT,
    retry_delay REAL,
    retry_backoff INTEGER,
    retry_delay_max REAL,
    wait_until INTEGER,
    wait_token_id TEXT,
    flow_id TEXT,
    entity_id TEXT,
    entity_type TEXT
);

CREATE INDEX job_queue_claim_pending ON job_queue (priority DESC, run_at, id)
    WHERE status = 'pending';
CREATE INDEX job_queue_claim_failed ON job_queue (next_attempt_at)
    WHERE status = 'failed' AND next_attempt_at IS NOT NULL;
CREATE INDEX job_queue_reclaim ON job_queue (locked_at) WHERE status = 'processing';
CREATE INDEX job_queue_cleanup ON job_queue (updated_at)
    WHERE status IN ('completed', 'cancelled', 'failed');
CREATE INDEX job_queue_status ON job_queue (status, id);
CREATE INDEX job_queue_job_type ON job_queue (job_type, id);
CREATE INDEX job_queue_wait_token ON job_queue (wait_token_id) WHERE status = 'waiting';
CREATE INDEX job_queue_wait_until ON job_queue (wait_until) WHERE status = 'waiting';
CREATE INDEX job_queue_flow ON job_queue (flow_id) WHERE flow_id IS NOT NULL;
CREATE INDEX job_queue_entity ON job_queue (entity_type, entity_id)
    WHERE entity_id IS NOT NULL;

-- job_queue.tags is what is returned; job_tags is its index for tag filters,
-- kept in step by triggers so that every writer (including a caller's db=
-- connection) maintains it.
CREATE TABLE job_tags (
    job_id INTEGER NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (job_id, tag)
) WITHOUT ROWID;

CREATE INDEX job_tags_tag ON job_tags (tag, job_id);

CREATE TABLE job_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    metadata TEXT
);

CREATE INDEX job_events_job ON job_events (job_id, id);
CREATE INDEX job_events_created ON job_events (created_at);

CREATE TRIGGER job_queue_tags_insert AFTER INSERT ON job_queue
BEGIN
    INSERT OR IGNORE INTO job_tags (job_id, tag)
    SELECT new.id, value FROM json_each(new.tags);
END;

CREATE TRIGGER job_queue_tags_update AFTER UPDATE OF tags ON job_queue
BEGIN
    DELETE FROM job_tags WHERE job_id = old.id;
    INSERT OR IGNORE INTO job_tags (job_id, tag)
    SELECT new.id, value FROM json_each(new.tags);
END;

CREATE TRIGGER job_queue_delete AFTER DELETE ON job_queue
BEGIN
    DELETE FROM job_tags WHERE job_id = old.id;
    DELETE FROM job_events WHERE job_id = old.id;
END;

CREATE TABLE waitpoints (
    id TEXT PRIMARY KEY,
    job_id INTEGER,
    status TEXT NOT NULL DEFAULT 'waiting' CHECK (
        status IN ('waiting', 'completed', 'timed_out')
    ),
    output TEXT,
    timeout_at INTEGER,
    created_at INTEGER NOT NULL,
    completed_at INTEGER,
    tags TEXT NOT NULL DEFAULT '[]'
);

CREATE INDEX waitpoints_timeout ON waitpoints (timeout_at)
    WHERE status = 'waiting' AND timeout_at IS NOT NULL;
CREATE INDEX waitpoints_job ON waitpoints (job_id);

CREATE TABLE cron_schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_name TEXT NOT NULL UNIQUE,
    cron_expression TEXT NOT NULL,
    job_type TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT 'null',
    timezone TEXT NOT NULL DEFAULT 'UTC',
    allow_overlap INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    max_attempts INTEGER NOT NULL DEFAULT 3,
    priority INTEGER NOT NULL DEFAULT 0,
    timeout REAL,
    tags TEXT NOT NULL DEFAULT '[]',
    retry_delay REAL,
    retry_backoff INTEGER,
    retry_delay_max REAL,
    last_enqueued_at INTEGER,
    last_job_id INTEGER,
    next_run_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX cron_schedules_due ON cron_schedules (next_run_at) WHERE status = 'active';

CREATE TABLE flows (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    failure_policy TEXT NOT NULL DEFAULT 'continue' CHECK (
        failure_policy IN ('continue', 'abort')
    ),
    timeout_at INTEGER,
    join_spec TEXT NOT NULL,
    join_job_id INTEGER,
    entity_id TEXT,
    entity_type TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER
);

CREATE INDEX flows_timeout ON flows (timeout_at)
    WHERE finished_at IS NULL AND timeout_at IS NOT NULL;

CREATE TABLE workers (
    worker_id TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    last_heartbeat INTEGER NOT NULL,
    job_types TEXT
);

CREATE INDEX workers_heartbeat ON workers (last_heartbeat);
