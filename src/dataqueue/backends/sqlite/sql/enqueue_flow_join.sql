-- enqueue_flow_join: a ready flow whose join was just inserted (add_jobs,
-- same transaction) becomes joined, naming the join. The status condition
-- repeats the check of enqueue_flow_join.ready, so a flow joins once.
-- :id :join_job_id :now
UPDATE flows
SET status = 'joined', join_job_id = :join_job_id, updated_at = :now
WHERE id = :id AND status = 'ready'
