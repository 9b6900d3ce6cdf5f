-- remove_dead_workers: forget workers whose last heartbeat is older than
-- the cutoff (their process is gone).
-- Parameters: before. Returns how many were removed.
WITH removed AS (
    DELETE FROM {schema}.workers
    WHERE last_heartbeat < %(before)s::timestamptz
    RETURNING id
)
SELECT count(*) AS n FROM removed
