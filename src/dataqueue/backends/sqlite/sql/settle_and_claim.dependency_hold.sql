-- settle_and_claim.dependency_hold: a job held by its dependencies (no
-- claim takes it), or released from them (:reason NULL).
-- :id :reason :now
UPDATE job_queue SET pending_reason = :reason, updated_at = :now
WHERE id = :id AND status = 'pending'
