-- settle_and_claim.ended: of jobs just changed, those a held job waits on,
-- with what decides for their dependents.
-- :ids (JSON list)
-- Returns id, tags, status, next_attempt_at.
SELECT id, tags, status, next_attempt_at
FROM job_queue
WHERE id IN (SELECT value FROM json_each(:ids)) AND has_dependents = 1
ORDER BY id
