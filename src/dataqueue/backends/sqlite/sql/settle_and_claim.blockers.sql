-- settle_and_claim.blockers: the active jobs (pending, processing, waiting)
-- other than :id whose tags include every tag of :tags (a drain's blockers).
-- :id :tags (JSON list, not empty)
SELECT j.id
FROM job_queue AS j
WHERE j.status IN ('pending', 'processing', 'waiting') AND j.id <> :id
    AND NOT EXISTS (
        SELECT 1 FROM json_each(:tags) AS wanted
        WHERE wanted.value NOT IN (SELECT value FROM json_each(j.tags))
    )
