-- cleanup_old_job_events: delete one batch of events created before the
-- cutoff.
-- Parameters: before, batch_size. Returns how many events were deleted.
WITH doomed AS (
    SELECT id
    FROM {schema}.job_events
    WHERE created_at < %(before)s::timestamptz
    LIMIT %(batch_size)s::integer
),
deleted AS (
    DELETE FROM {schema}.job_events AS e
    USING doomed
    WHERE e.id = doomed.id
    RETURNING e.id
)
SELECT count(*) AS n FROM deleted
