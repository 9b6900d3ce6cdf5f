-- cleanup_old_job_events.default: on the partitioned layout (see
-- migrate_partitioned), delete one batch of the events created before the
-- cutoff from the default partition, the only one cleaned up row by row:
-- the events of a daily partition stay until their whole day has ended
-- before the cutoff and the partition is dropped
-- (cleanup_old_job_events.partitions), so that a cleanup run every minute
-- does not delete each day row by row as it passes the cutoff.
-- Parameters: before, batch_size. Returns how many events were deleted.
WITH doomed AS (
    SELECT id, created_at
    FROM {schema}.job_events_default
    WHERE created_at < %(before)s::timestamptz
    LIMIT %(batch_size)s::integer
),
deleted AS (
    DELETE FROM {schema}.job_events_default AS e
    USING doomed
    WHERE e.id = doomed.id AND e.created_at = doomed.created_at
    RETURNING e.id
)
SELECT count(*) AS n FROM deleted
