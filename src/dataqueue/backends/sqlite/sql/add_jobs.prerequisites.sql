-- add_jobs.prerequisites: which of the ids a call's depends_on names exist,
-- read before anything is written.
-- :ids (JSON list)
SELECT id FROM job_queue WHERE id IN (SELECT value FROM json_each(:ids))
