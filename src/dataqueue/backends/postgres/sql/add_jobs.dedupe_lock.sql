-- add_jobs.dedupe_lock: serialize adds that share a dedupe key: a
-- transaction-scoped advisory lock per key (of this schema), taken for all
-- of a batch's keys at once, in key order, so that two batches never wait
-- for each other crosswise. Held until the adding transaction ends.
-- Parameters: keys (text[], sorted, distinct), namespace (the schema name).
-- Returns one row per key.
SELECT pg_advisory_xact_lock(hashtextextended(%(namespace)s::text || ':' || k, 0))
FROM unnest(%(keys)s::text[]) WITH ORDINALITY AS u (k, ord)
ORDER BY u.ord
