-- set_progress: store a job's progress percentage.
-- Parameters: job_id, progress (0 to 100), now.
UPDATE {schema}.job_queue
SET progress = %(progress)s::smallint, updated_at = %(now)s::timestamptz
WHERE id = %(job_id)s::bigint
