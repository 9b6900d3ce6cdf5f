-- settle_and_claim.suspend: an attempt waits; its job, still held under the
-- lease, stores its step_data, gets back the attempt its claim took and
-- becomes :status, unlocked: 'waiting' (with wait_until or wait_token_id),
-- or 'pending' and due now when the token it would wait on is already
-- resolved (the caller checked, in this transaction). Run with executemany;
-- the caller has checked the leases (held_leases) and records the events.
-- :id :token :status :step_data (JSON) :wait_until :wait_token_id :now
UPDATE job_queue
SET status = :status,
    step_data = :step_data,
    wait_until = :wait_until,
    wait_token_id = :wait_token_id,
    run_at = CASE WHEN :status = 'pending' THEN :now ELSE run_at END,
    attempts = max(attempts - 1, 0),
    locked_by = NULL,
    locked_at = NULL,
    lease_token = NULL,
    updated_at = :now
WHERE id = :id AND status = 'processing' AND lease_token = :token
