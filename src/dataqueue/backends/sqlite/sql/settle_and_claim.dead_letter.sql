-- settle_and_claim.dead_letter: a job that this flush failed for good got
-- its dead letter (inserted just before, in the same transaction, as
-- add_jobs does): the failed job keeps its id and the time. The caller
-- records the dead_lettered event.
-- :id :dead_letter_job_id :now
UPDATE job_queue
SET dead_letter_job_id = :dead_letter_job_id,
    dead_lettered_at = :now,
    updated_at = :now
WHERE id = :id
