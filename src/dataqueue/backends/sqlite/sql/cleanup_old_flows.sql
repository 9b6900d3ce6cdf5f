-- cleanup_old_flows: delete up to :batch_size joined flows last updated
-- before :before (running and ready flows are never deleted); their step rows
-- follow (cleanup_old_flows.steps) in the same transaction. Their jobs are
-- left to cleanup_old_jobs. Walks flows_cleanup.
-- :before :batch_size. Returns the ids deleted.
DELETE FROM flows
WHERE id IN (
    SELECT id FROM flows
    WHERE status = 'joined' AND updated_at < :before
    LIMIT :batch_size
)
RETURNING id
