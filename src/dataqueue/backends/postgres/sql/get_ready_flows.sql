-- get_ready_flows: ready flows (their join not enqueued yet), the first
-- started first, for a dispatcher that picks up the joins of one that died.
-- Parameters: limit. Returns their ids.
SELECT id
FROM {schema}.flows
WHERE status = 'ready'
ORDER BY seq
LIMIT %(limit)s::bigint
