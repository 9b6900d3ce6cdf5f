-- settle_and_claim.spend: store a bucket the claim took tokens from.
-- :job_type :group_id ('' for the type's own) :tokens :now
INSERT INTO limit_buckets (job_type, group_id, tokens, updated_at)
VALUES (:job_type, :group_id, :tokens, :now)
ON CONFLICT (job_type, group_id) DO UPDATE SET
    tokens = excluded.tokens,
    updated_at = excluded.updated_at
