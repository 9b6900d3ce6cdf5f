-- held_leases: which of the given leases still hold, with each job's lock
-- holder, whether held jobs wait on it (has_dependents) and, for a flow's
-- step, its flow and place (for the barrier). Read
-- inside the write transaction of settle_and_claim and release_jobs, so the
-- answer stays true until they commit.
-- The unary + keeps the planner off the status index (every processing job):
-- each lease finds its job by id instead.
-- :leases (JSON list of [job_id, token]).
-- Returns id, lease_token, locked_by, flow_id, flow_step_index,
-- has_dependents.
SELECT job_queue.id, job_queue.lease_token, job_queue.locked_by,
    job_queue.flow_id, job_queue.flow_step_index, job_queue.has_dependents
FROM json_each(:leases) AS lease
JOIN job_queue ON job_queue.id = json_extract(lease.value, '$[0]')
WHERE +job_queue.status = 'processing'
    AND job_queue.lease_token = json_extract(lease.value, '$[1]')
