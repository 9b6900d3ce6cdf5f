-- heartbeat: refresh locked_at of every job still held under its lease, in
-- one statement, so reclaim_stuck_jobs leaves a live worker's jobs alone.
-- Only locked_at changes, and no index covers it, so the update can stay
-- on the row's page (HOT) without touching any index.
-- Parameters: ids, tokens (the leases, as two parallel arrays), now.
-- Returns the ids of the jobs still held (the others were lost).
UPDATE {schema}.job_queue AS j
SET locked_at = %(now)s::timestamptz
FROM unnest(%(ids)s::bigint[], %(tokens)s::text[]) AS l (id, token)
WHERE j.id = l.id AND j.status = 'processing' AND j.lease_token = l.token
RETURNING j.id
