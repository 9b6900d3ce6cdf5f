-- get_flow.steps: a flow's steps in order, each with its job's type, status
-- and output, and the message of its job's last error (NULL without one).
-- A step whose job was deleted by cleanup_old_jobs is left out.
-- :flow_id
SELECT
    s.step_index,
    s.job_id,
    s.outcome,
    j.job_type,
    j.status,
    j.output,
    json_extract(j.error_history, '$[#-1].message') AS error
FROM flow_steps AS s
JOIN job_queue AS j ON j.id = s.job_id
WHERE s.flow_id = :flow_id
ORDER BY s.step_index
