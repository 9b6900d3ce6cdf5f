-- 0009_typed_claim_indexes: a processor claims only the job types it has
-- handlers for, one type at a time (settle_and_claim.sql): each type's
-- pending jobs come off this index in claim order, so a walk stops after
-- the claim's limit instead of reading and sorting every pending job of the
-- type; each type's retries come off the second index by due time, as the
-- untyped claim reads job_queue_retry_idx.
-- Formatted with the schema identifier; no parameters.

CREATE INDEX job_queue_type_claim_idx
    ON {schema}.job_queue (job_type, priority DESC, run_at, id)
    WHERE status = 'pending';
CREATE INDEX job_queue_type_retry_idx ON {schema}.job_queue (job_type, next_attempt_at)
    WHERE status = 'failed' AND next_attempt_at IS NOT NULL;
