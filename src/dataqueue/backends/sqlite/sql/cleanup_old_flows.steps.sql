-- cleanup_old_flows.steps: the step rows of the flows just deleted by
-- cleanup_old_flows. :ids (JSON list of flow ids)
DELETE FROM flow_steps
WHERE flow_id IN (SELECT value FROM json_each(:ids))
