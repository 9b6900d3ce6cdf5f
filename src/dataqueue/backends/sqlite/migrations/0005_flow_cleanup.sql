-- 0005_flow_cleanup: the index cleanup_old_flows walks, so that each batch
-- finds the old joined flows without reading every joined flow.
-- Applied inside BEGIN IMMEDIATE.

CREATE INDEX flows_cleanup ON flows (status, updated_at);
