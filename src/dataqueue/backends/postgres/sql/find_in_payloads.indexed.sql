-- find_in_payloads.indexed: whether the schema has the optional trigram
-- index of the payloads' JSON text (docs/dashboard.md, "Payload search"), under
-- its documented name.
-- Parameters: schema. Returns one row: indexed (boolean).
SELECT EXISTS (
    SELECT 1
    FROM pg_indexes
    WHERE schemaname = %(schema)s::text
        AND tablename = 'job_queue'
        AND indexname = 'job_queue_payload_trgm_idx'
) AS indexed
