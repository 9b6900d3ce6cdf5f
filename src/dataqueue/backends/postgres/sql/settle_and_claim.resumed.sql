-- settle_and_claim.resumed: the 'resumed' events of the jobs
-- settle_and_claim.resume made pending. Parameters: ids (bigint[]),
-- metadata (JSON text[]), now.
INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
SELECT id, 'resumed', %(now)s::timestamptz, metadata::jsonb
FROM unnest(%(ids)s::bigint[], %(metadata)s::text[]) AS r (id, metadata)
