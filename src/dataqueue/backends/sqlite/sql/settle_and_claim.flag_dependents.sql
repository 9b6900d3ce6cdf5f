-- settle_and_claim.flag_dependents: these jobs have a held job waiting on
-- them (by id, or as drain blockers), so their own change comes back to it.
-- :ids (JSON list)
UPDATE job_queue SET has_dependents = 1
WHERE id IN (SELECT value FROM json_each(:ids)) AND has_dependents = 0
