-- flow_barrier.record: store the outcome of a step that flow_barrier just
-- counted, in the same transaction.
-- :flow_id :step_index :outcome
UPDATE flow_steps SET outcome = :outcome
WHERE flow_id = :flow_id AND step_index = :step_index
