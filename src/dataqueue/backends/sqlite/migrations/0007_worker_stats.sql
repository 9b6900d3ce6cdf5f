-- 0007_worker_stats: what the dashboard's overview and workers page read.
-- workers: each worker's counts since it started (sent with its heartbeats)
-- and whether it was asked to stop taking jobs. minute_stats: per minute
-- (epoch microseconds of its start) and job type, what the workers
-- reported; workers add to it with their heartbeats, never per job, and
-- minutes older than a day are dropped as they go.
-- Applied inside BEGIN IMMEDIATE.

ALTER TABLE workers ADD COLUMN processed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN quiet INTEGER NOT NULL DEFAULT 0;

CREATE TABLE minute_stats (
    minute INTEGER NOT NULL,
    job_type TEXT NOT NULL,
    started INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    first_starts INTEGER NOT NULL,
    start_delay_seconds REAL NOT NULL,
    PRIMARY KEY (minute, job_type)
) WITHOUT ROWID;
