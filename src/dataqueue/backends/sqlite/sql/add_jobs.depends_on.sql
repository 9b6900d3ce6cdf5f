-- add_jobs.depends_on: a new job's depends_on as stored (its batch_refs
-- resolved to ids), and its prerequisites told they have a dependent.
-- :id :job_ids (JSON list or NULL) :tags (JSON list or NULL)
UPDATE job_queue
SET depends_on_job_ids = :job_ids, depends_on_tags = :tags
WHERE id = :id
