-- 0015_held_counts: the held jobs (pending with a pending_reason: a limit,
-- a pause or its dependencies hold them) by job type and reason, so that
-- held_counts reads them alone, however long the queue behind them is.
-- Formatted with the schema identifier; no parameters.

CREATE INDEX job_queue_held_reason_idx ON {schema}.job_queue (job_type, pending_reason)
    WHERE status = 'pending' AND pending_reason IS NOT NULL;
