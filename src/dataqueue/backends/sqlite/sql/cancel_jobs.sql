-- cancel_jobs: the pending or waiting jobs among :ids become cancelled.
-- Used for one job and for a filter alike. A cancelled flow step meets its
-- flow's barrier as a fail (flow_barrier) in the same transaction.
-- :ids (JSON list) :statuses (JSON list: the ones a cancel starts from)
-- :now. Returns id, flow_id and flow_step_index of each job cancelled.
UPDATE job_queue
SET status = 'cancelled',
    locked_by = NULL,
    locked_at = NULL,
    last_cancelled_at = :now,
    updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids))
    AND status IN (SELECT value FROM json_each(:statuses))
RETURNING id, flow_id, flow_step_index
