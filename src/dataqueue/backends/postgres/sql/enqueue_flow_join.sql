-- enqueue_flow_join: claim a ready flow's join, the first statement of the
-- enqueue transaction: the flow becomes joined; add_jobs then inserts the
-- join and enqueue_flow_join.record notes its id, before the commit. The
-- row lock makes a concurrent caller wait, then find the flow joined and
-- claim nothing: the join is enqueued exactly once.
-- Parameters: flow_id, now. Returns the flow's id when claimed, else no row.
UPDATE {schema}.flows
SET status = 'joined', updated_at = %(now)s::timestamptz
WHERE id = %(flow_id)s::text AND status = 'ready'
RETURNING id
