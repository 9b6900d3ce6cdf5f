-- settle_and_claim.tokens: the status of each token that suspending attempts
-- want to wait on, read in the settle's transaction so it cannot change
-- before the jobs are written.
-- :ids (JSON list). Returns id, status.
SELECT id, status FROM waitpoints WHERE id IN (SELECT value FROM json_each(:ids))
