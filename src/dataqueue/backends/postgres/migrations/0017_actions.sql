-- 0017_actions: the audit trail of what operators did that changed no
-- job's own log (pausing a job type, quieting a worker, a cron edit...),
-- as queue.record_action stores it: when, who, what, and its details as
-- JSON text. record_action keeps the newest rows only (the queue asks for
-- 10,000), so the table stays small; read newest first through the key.
-- Formatted with the schema identifier; no parameters.

CREATE TABLE {schema}.actions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    details JSON NOT NULL
);
