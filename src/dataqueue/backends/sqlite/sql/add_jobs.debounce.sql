-- add_jobs.debounce: a debounced add while its key's job is still pending:
-- the job takes the add's payload and run_at (NULL: now). The caller
-- renews the key's record and records the deduplicated event.
-- :id :payload (JSON) :run_at :now
UPDATE job_queue
SET payload = :payload,
    run_at = coalesce(:run_at, :now),
    updated_at = :now
WHERE id = :id AND status = 'pending'
