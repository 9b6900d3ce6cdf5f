-- settle_and_claim.resume: before a limited claim's walk, waiting jobs of
-- its job_types whose wait_until has come become pending (run_at =
-- wait_until), at most 1000 per call, as the plain claim does for the ones
-- it takes; their 'resumed' events follow (settle_and_claim.resumed, with
-- the metadata built in Python). Parameters: job_types (NULL: every type),
-- now. Returns id, wait_until of each job resumed.
UPDATE {schema}.job_queue AS j
SET status = 'pending', run_at = j.wait_until, updated_at = %(now)s::timestamptz
WHERE j.id IN (
    SELECT id FROM {schema}.job_queue
    WHERE status = 'waiting' AND wait_until <= %(now)s::timestamptz
        AND (%(job_types)s::text[] IS NULL OR job_type = ANY (%(job_types)s::text[]))
    ORDER BY wait_until
    LIMIT 1000
    FOR UPDATE SKIP LOCKED
)
RETURNING j.id, j.wait_until
