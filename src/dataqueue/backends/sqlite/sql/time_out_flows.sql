-- time_out_flows: running flows whose deadline has come become ready with
-- timed_out set; the steps that finish later change nothing (flow_barrier
-- counts only for running flows). Walks flows_timeout.
-- :now. Returns the ids timed out.
UPDATE flows
SET status = 'ready', timed_out = 1, updated_at = :now
WHERE status = 'running' AND timeout_at IS NOT NULL AND timeout_at <= :now
RETURNING id
