-- settle_and_claim.cancel_dependent: a held job whose prerequisite will
-- never complete is cancelled (the caller records the event).
-- :id :now
UPDATE job_queue
SET status = 'cancelled', pending_reason = NULL, last_cancelled_at = :now,
    updated_at = :now
WHERE id = :id AND status = 'pending'
