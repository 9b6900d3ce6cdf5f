-- settle_and_claim.groups_lock: a claim capping group keys over every type
-- (a processor's group_concurrency) also waits for every other such claim
-- of this schema: one transaction-scoped advisory lock. Parameters: key
-- (the lock's number, from the schema's name).
SELECT pg_advisory_xact_lock(%(key)s::bigint)
