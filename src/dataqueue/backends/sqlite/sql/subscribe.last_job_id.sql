-- subscribe.last_job_id: the highest job id ever handed out. It grows only
-- when a job is added, so a change tells the wake-up listener that another
-- connection added one (and committed it). No parameters.
SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'job_queue'), 0)
