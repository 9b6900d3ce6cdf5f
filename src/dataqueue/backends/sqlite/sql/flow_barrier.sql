-- flow_barrier: count one flow step that finished for good (:outcome
-- 'success' or 'fail'), in the transaction of the change that made its job
-- final (settle_and_claim, reclaim_stuck_jobs, cancel_job, cancel_jobs).
-- Only a step with no outcome yet, of a flow still running, counts:
-- duplicates and steps finishing after an abort or a timeout change nothing.
-- remaining_steps goes down by one; the flow becomes ready when none remain,
-- or at once for a fail under the abort policy (aborted set). BEGIN
-- IMMEDIATE serializes writers, so two last steps settled at once by two
-- processes make the flow ready once.
-- :flow_id :step_index :outcome :now. Returns the flow's new status when the
-- step counted (the caller then records it with flow_barrier.record); no row
-- when it did not.
UPDATE flows
SET remaining_steps = remaining_steps - 1,
    aborted = (:outcome = 'fail' AND failure_policy = 'abort'),
    status = CASE
        WHEN remaining_steps = 1 OR (:outcome = 'fail' AND failure_policy = 'abort')
            THEN 'ready'
        ELSE 'running'
    END,
    updated_at = :now
WHERE id = :flow_id
    AND status = 'running'
    AND EXISTS (
        SELECT 1 FROM flow_steps
        WHERE flow_id = :flow_id AND step_index = :step_index AND outcome IS NULL
    )
RETURNING status
