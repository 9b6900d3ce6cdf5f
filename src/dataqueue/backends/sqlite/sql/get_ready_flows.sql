-- get_ready_flows: flows whose join is due but not enqueued yet, oldest
-- first (by flows_status).
-- :limit. Returns their ids.
SELECT id FROM flows
WHERE status = 'ready'
ORDER BY created_at, rowid
LIMIT :limit
