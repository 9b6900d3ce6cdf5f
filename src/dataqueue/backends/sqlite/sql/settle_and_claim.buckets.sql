-- settle_and_claim.buckets: the stored token buckets of the limited types.
-- :job_types (JSON list). Returns job_type, group_id ('' for the type's
-- own), tokens, updated_at.
SELECT job_type, group_id, tokens, updated_at
FROM limit_buckets
WHERE job_type IN (SELECT value FROM json_each(:job_types))
