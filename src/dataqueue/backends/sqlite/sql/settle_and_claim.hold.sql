-- settle_and_claim.hold: mark a pending job held (its 'held' event is
-- written beside); a job its dependencies hold keeps that reason.
-- :id :reason :now
UPDATE job_queue SET pending_reason = :reason, updated_at = :now
WHERE id = :id AND status = 'pending' AND pending_reason IS NOT 'dependency'
