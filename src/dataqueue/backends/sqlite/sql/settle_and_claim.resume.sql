-- settle_and_claim.resume: before claiming, waiting jobs whose wait_until
-- has come become pending, due since wait_until (their run_at), so the
-- claim that follows takes them in their turn; wait_until stays, as the
-- record of the last wait. Walks job_queue_wait_until: nothing to read when
-- no wait is due.
-- :now. Returns id and wait_until of each job resumed.
UPDATE job_queue
SET status = 'pending', run_at = wait_until, updated_at = :now
WHERE status = 'waiting' AND wait_until <= :now
RETURNING id, wait_until
