-- time_out_flows: running flows past their deadline become ready with
-- timed_out set; their joins run with the steps finished so far. The row
-- locks order this against a barrier (record_flow_outcomes): whichever comes
-- second finds the flow no longer running and changes nothing. Flows are
-- locked in id order, as the barrier locks them, so that the two cannot
-- deadlock over two flows.
-- Parameters: now. Returns the ids of the flows timed out.
WITH due AS (
    SELECT id
    FROM {schema}.flows
    WHERE status = 'running' AND timeout_at <= %(now)s::timestamptz
    ORDER BY id
    FOR UPDATE
)
UPDATE {schema}.flows AS f
SET status = 'ready', timed_out = true, updated_at = %(now)s::timestamptz
FROM due
WHERE f.id = due.id
RETURNING f.id
