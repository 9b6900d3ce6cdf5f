-- settle_and_claim.take: the jobs a limited claim's walk took move to
-- processing, as settle_and_claim.claim does. :ids (JSON list) :worker_id
-- :token :now. Returns every column of the claimed jobs.
UPDATE job_queue
SET status = 'processing',
    locked_by = :worker_id,
    locked_at = :now,
    lease_token = :token,
    attempts = attempts + 1,
    started_at = coalesce(started_at, :now),
    last_retried_at = CASE WHEN attempts > 0 THEN :now ELSE last_retried_at END,
    next_attempt_at = NULL,
    pending_reason = NULL,
    updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids))
RETURNING *
