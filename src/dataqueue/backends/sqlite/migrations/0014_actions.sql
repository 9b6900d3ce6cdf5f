-- 0014_actions: the audit trail of what operators did that changed no
-- job's own log (pausing a job type, quieting a worker, a cron edit...),
-- as queue.record_action stores it: when (epoch microseconds), who, what,
-- and its details as JSON text. record_action keeps the newest rows only
-- (the queue asks for 10,000); read newest first through the key.
-- Applied inside BEGIN IMMEDIATE.

CREATE TABLE actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL
);
