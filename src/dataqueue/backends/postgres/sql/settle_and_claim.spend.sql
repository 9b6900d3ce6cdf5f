-- settle_and_claim.spend: store the buckets a limited claim took tokens
-- from. Parameters: job_types, group_ids ('' for a type's own), tokens
-- (double precision[]), now.
INSERT INTO {schema}.limit_buckets (job_type, group_id, tokens, updated_at)
SELECT b.job_type, b.group_id, b.tokens, %(now)s::timestamptz
FROM unnest(%(job_types)s::text[], %(group_ids)s::text[], %(tokens)s::double precision[])
    AS b (job_type, group_id, tokens)
ON CONFLICT (job_type, group_id) DO UPDATE SET
    tokens = excluded.tokens,
    updated_at = excluded.updated_at
