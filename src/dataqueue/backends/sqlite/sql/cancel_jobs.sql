-- cancel_jobs: the pending or waiting jobs among :ids become cancelled.
-- Used for one job and for a filter alike. Returns the ids cancelled.
-- :ids (JSON list) :now
UPDATE job_queue
SET status = 'cancelled',
    locked_by = NULL,
    locked_at = NULL,
    last_cancelled_at = :now,
    updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids))
    AND status IN ('pending', 'waiting')
RETURNING id
