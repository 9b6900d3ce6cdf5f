-- settle_and_claim.unhold: the claimed jobs that were held lose their mark
-- (their 'released' event is written beside). :ids (JSON list)
UPDATE job_queue SET pending_reason = NULL
WHERE id IN (SELECT value FROM json_each(:ids))
