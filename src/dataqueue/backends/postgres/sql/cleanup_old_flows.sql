-- cleanup_old_flows: delete one batch of joined flows last updated (that
-- is, joined) before the cutoff; their flow_steps rows go with them (ON
-- DELETE CASCADE). Their jobs stay for cleanup_old_jobs. Running and ready
-- flows are never deleted: their barrier or their join is still to come.
-- flows_joined_idx (migrations/0006_flow_cleanup.sql) keeps the scan to
-- joined flows, oldest first.
-- Parameters: before, batch_size. Returns how many flows were deleted.
WITH doomed AS (
    SELECT id
    FROM {schema}.flows
    WHERE status = 'joined' AND updated_at < %(before)s::timestamptz
    ORDER BY seq
    LIMIT %(batch_size)s::integer
    FOR UPDATE SKIP LOCKED
),
deleted AS (
    DELETE FROM {schema}.flows AS f
    USING doomed
    WHERE f.id = doomed.id
    RETURNING f.id
)
SELECT count(*) AS n FROM deleted
