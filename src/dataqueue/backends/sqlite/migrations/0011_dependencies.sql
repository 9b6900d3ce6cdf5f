-- 0011_dependencies: depends_on as stored (the prerequisites' ids and the
-- drain tags, JSON lists), and has_dependents: set on a job that a held
-- job waits on, so that only its own change looks for the jobs to release
-- or cancel. A held job is pending with pending_reason 'dependency'; the
-- index lists them for that look. Applied inside BEGIN IMMEDIATE.

ALTER TABLE job_queue ADD COLUMN depends_on_job_ids TEXT;
ALTER TABLE job_queue ADD COLUMN depends_on_tags TEXT;
ALTER TABLE job_queue ADD COLUMN has_dependents INTEGER NOT NULL DEFAULT 0;

CREATE INDEX job_queue_held ON job_queue (id) WHERE pending_reason = 'dependency';
