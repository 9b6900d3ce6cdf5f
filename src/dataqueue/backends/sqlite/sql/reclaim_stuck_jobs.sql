-- reclaim_stuck_jobs: take back the processing jobs among :ids (found by
-- reclaim_stuck_jobs.find in the same transaction). The lost attempt counts
-- as used: a job with attempts left becomes pending with run_at = now (behind
-- the jobs already waiting, so a job that kills its worker cannot stay first
-- in line); one that has used max_attempts becomes failed for good with
-- :failure_reason (worker_lost) and :error appended to error_history. Both clear
-- the lock and the lease. A flow's step that failed for good here meets its
-- flow's barrier (flow_barrier) in the same transaction.
-- :ids (JSON list) :error (JSON object) :failure_reason :now. Returns each
-- job's row as it is now (the caller reads a failed one whole when it names
-- a dead_letter_job_type, to build its dead letter).
UPDATE job_queue
SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
    run_at = CASE WHEN attempts >= max_attempts THEN run_at ELSE :now END,
    error_history = CASE
        WHEN attempts >= max_attempts
            THEN json_insert(error_history, '$[#]', json(:error))
        ELSE error_history
    END,
    failure_reason = CASE
        WHEN attempts >= max_attempts THEN :failure_reason ELSE failure_reason
    END,
    last_failed_at = CASE WHEN attempts >= max_attempts THEN :now ELSE last_failed_at END,
    next_attempt_at = NULL,
    locked_by = NULL,
    locked_at = NULL,
    lease_token = NULL,
    updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'processing'
RETURNING *
