-- settle_and_claim.fail: an attempt failed; its job, still held under the
-- lease, becomes failed, unlocked, with the error appended to error_history.
-- It runs again at :next_attempt_at (NULL: failed for good). Run with
-- executemany for every failure of a flush; the caller has checked the
-- leases (held_leases) and records the failed events.
-- :id :token :error (JSON object) :failure_reason :next_attempt_at :now
UPDATE job_queue
SET status = 'failed',
    error_history = json_insert(error_history, '$[#]', json(:error)),
    failure_reason = :failure_reason,
    last_failed_at = :now,
    next_attempt_at = :next_attempt_at,
    locked_by = NULL,
    locked_at = NULL,
    lease_token = NULL,
    updated_at = :now
WHERE id = :id AND status = 'processing' AND lease_token = :token
