-- last_job_id: the highest job id ever handed out; it grows only when a job
-- is added, so a change tells the wake-up listener about adds from other
-- processes. No parameters.
SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'job_queue'), 0)
