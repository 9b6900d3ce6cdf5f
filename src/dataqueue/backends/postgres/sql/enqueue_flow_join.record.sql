-- enqueue_flow_join.record: the last statement of the enqueue transaction:
-- the joined flow remembers the join job add_jobs inserted for it.
-- Parameters: flow_id, job_id. Returns nothing.
UPDATE {schema}.flows
SET join_job_id = %(job_id)s::bigint
WHERE id = %(flow_id)s::text
