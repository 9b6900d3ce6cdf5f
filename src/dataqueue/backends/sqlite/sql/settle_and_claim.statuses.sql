-- settle_and_claim.statuses: the status of a held job's prerequisites.
-- :ids (JSON list)
SELECT id, status FROM job_queue WHERE id IN (SELECT value FROM json_each(:ids))
