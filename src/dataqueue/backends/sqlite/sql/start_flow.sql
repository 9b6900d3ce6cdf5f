-- start_flow: insert a running flow with every step still to finish. Its
-- steps' jobs (add_jobs) and step rows (start_flow.step) follow in the same
-- transaction.
-- :id :failure_policy :total_steps :timeout_at (NULL: no deadline)
-- :join_job_type :join_spec (opaque text) :entity_id :entity_type :now
INSERT INTO flows (
    id, status, failure_policy, total_steps, remaining_steps, timeout_at,
    join_job_type, join_spec, entity_id, entity_type, created_at, updated_at
)
VALUES (
    :id, 'running', :failure_policy, :total_steps, :total_steps, :timeout_at,
    :join_job_type, :join_spec, :entity_id, :entity_type, :now, :now
)
