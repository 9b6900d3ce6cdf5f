-- get_flow: one flow with its steps, in one row: the flow's columns, and
-- steps, a JSON array ordered by step_index. Each step gives its job's
-- type and current status, the outcome the barrier recorded (NULL until the
-- step finished for good), and for a recorded step its job's output
-- (success) or its last error message (fail; 'cancelled' for a job
-- cancelled before any error). A step whose job was deleted by
-- cleanup_old_jobs is left out.
-- Parameters: flow_id. Returns no row when there is no such flow.
SELECT f.*, (
    SELECT coalesce(json_agg(json_build_object(
        'step_index', s.step_index,
        'job_id', s.job_id,
        'job_type', j.job_type,
        'status', j.status,
        'outcome', s.outcome,
        'result', CASE WHEN s.outcome = 'success' THEN j.output END,
        'error', CASE WHEN s.outcome = 'fail' THEN coalesce(
            j.error_history -> -1 ->> 'message',
            CASE WHEN j.status = 'cancelled' THEN 'cancelled' END
        ) END
    ) ORDER BY s.step_index), '[]'::json)
    FROM {schema}.flow_steps AS s
    JOIN {schema}.job_queue AS j ON j.id = s.job_id
    WHERE s.flow_id = f.id
) AS steps
FROM {schema}.flows AS f
WHERE f.id = %(flow_id)s::text
