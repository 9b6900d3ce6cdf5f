-- settle_and_claim.claim: move up to :limit due jobs to processing for
-- :worker_id under lease :token.
-- Due: pending with run_at <= now (and not held by its dependencies), or
-- failed with next_attempt_at <= now.
-- A job that spent an attempt before is being retried: last_retried_at is
-- set. Chosen by priority (high first), run_at, id. RETURNING gives no order: the
-- caller sorts the rows by the same key (priority and run_at are unchanged).
-- INDEXED BY: with the status index the planner would sort every pending job;
-- the partial index is walked in claim order and stops at the limit.
-- pending_reason is left for the caller: a held job's mark says which
-- 'released' event to write (settle_and_claim.unhold clears it).
-- :worker_id :token :limit :job_types (JSON list, NULL = any type) :now
-- Returns every column of the claimed jobs.
UPDATE job_queue
SET status = 'processing',
    locked_by = :worker_id,
    locked_at = :now,
    lease_token = :token,
    attempts = attempts + 1,
    started_at = coalesce(started_at, :now),
    last_retried_at = CASE WHEN attempts > 0 THEN :now ELSE last_retried_at END,
    next_attempt_at = NULL,
    updated_at = :now
WHERE id IN (
    SELECT id FROM (
        SELECT * FROM (
            SELECT id, priority, run_at FROM job_queue INDEXED BY job_queue_claim_pending
            WHERE status = 'pending' AND run_at <= :now
                AND pending_reason IS NOT 'dependency'
                AND (
                    :job_types IS NULL
                    OR job_type IN (SELECT value FROM json_each(:job_types))
                )
            ORDER BY priority DESC, run_at, id
            LIMIT :limit
        )
        UNION ALL
        SELECT * FROM (
            SELECT id, priority, run_at FROM job_queue INDEXED BY job_queue_claim_failed
            WHERE status = 'failed' AND next_attempt_at <= :now
                AND (
                    :job_types IS NULL
                    OR job_type IN (SELECT value FROM json_each(:job_types))
                )
            ORDER BY priority DESC, run_at, id
            LIMIT :limit
        )
        ORDER BY priority DESC, run_at, id
        LIMIT :limit
    )
)
RETURNING *
