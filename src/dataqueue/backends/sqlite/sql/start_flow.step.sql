-- start_flow.step: one step of a flow just inserted, with the job that runs
-- it and no outcome yet. Run with executemany.
-- :flow_id :step_index :job_id
INSERT INTO flow_steps (flow_id, step_index, job_id)
VALUES (:flow_id, :step_index, :job_id)
