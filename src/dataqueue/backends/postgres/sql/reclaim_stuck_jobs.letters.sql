-- reclaim_stuck_jobs.letters: the jobs reclaim_stuck_jobs just failed for
-- good that name a dead_letter_job_type, read whole (in its transaction, so
-- as it left them) for Python to build their dead letters
-- (_transitions.lost_worker_letter); settle_and_claim.dead_letter.sql then
-- links each to its letter.
-- Parameters: ids.
SELECT * FROM {schema}.job_queue WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id
