-- settle_and_claim.buckets: the stored token buckets of a gated claim's
-- job_types (NULL: every type). Returns job_type, group_id ('' for the
-- type's own), tokens, updated_at.
SELECT job_type, group_id, tokens, updated_at
FROM {schema}.limit_buckets
WHERE %(job_types)s::text[] IS NULL OR job_type = ANY (%(job_types)s::text[])
