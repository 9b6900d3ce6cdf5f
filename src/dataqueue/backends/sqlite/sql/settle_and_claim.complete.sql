-- settle_and_claim.complete: an attempt finished; its job, still held under
-- the lease, becomes completed with its output, unlocked. Run with
-- executemany for every completion of a flush; the caller has checked the
-- leases (held_leases) and records the completed events.
-- :id :token :output (JSON or NULL) :now
UPDATE job_queue
SET status = 'completed',
    completed_at = :now,
    output = :output,
    locked_by = NULL,
    locked_at = NULL,
    lease_token = NULL,
    updated_at = :now
WHERE id = :id AND status = 'processing' AND lease_token = :token
