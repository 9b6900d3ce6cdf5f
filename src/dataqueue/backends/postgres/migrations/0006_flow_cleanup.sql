-- 0006_flow_cleanup: cleanup_old_flows reads joined flows off this index
-- instead of scanning every flow at each batch. It is on seq, not
-- updated_at: the barrier writes updated_at on running flows, and an index
-- covering it would stop those updates from staying in place (HOT); seq
-- never changes, and status changes only when a flow becomes ready or
-- joined, which flows_ready_idx already indexes.
-- Formatted with the schema identifier; no parameters.

CREATE INDEX flows_joined_idx ON {schema}.flows (seq) WHERE status = 'joined';
