-- time_out_flows: running flows past their deadline become ready with
-- timed_out set; their joins run with the steps finished so far. The row
-- lock orders this against a barrier (record_flow_outcomes): whichever
-- comes second finds the flow no longer running and changes nothing.
-- Parameters: now. Returns the ids of the flows timed out.
UPDATE {schema}.flows
SET status = 'ready', timed_out = true, updated_at = %(now)s::timestamptz
WHERE status = 'running' AND timeout_at <= %(now)s::timestamptz
RETURNING id
