-- settle_and_claim.held: the jobs held by their dependencies, by id.
-- Returns id, depends_on_job_ids, depends_on_tags, tags.
SELECT id, depends_on_job_ids, depends_on_tags, tags
FROM job_queue INDEXED BY job_queue_held
WHERE pending_reason = 'dependency' AND status = 'pending'
ORDER BY id
