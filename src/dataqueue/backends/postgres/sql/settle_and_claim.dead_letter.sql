-- settle_and_claim.dead_letter: jobs that settle_and_claim just failed for
-- good (in the same transaction) got their dead letters, inserted before
-- this by add_jobs: each failed job keeps its letter's id and the time, and
-- gets a 'dead_lettered' event (the metadata built in Python, the
-- letter's id in it).
-- Parameters: now; ids (the failed jobs), letter_ids, metadata (JSON text),
-- in the same order.
-- Returns nothing.
WITH letters AS (
    SELECT *
    FROM unnest(%(ids)s::bigint[], %(letter_ids)s::bigint[], %(metadata)s::text[])
        AS l (id, letter_id, metadata)
),
linked AS (
    UPDATE {schema}.job_queue AS j
    SET dead_letter_job_id = l.letter_id,
        dead_lettered_at = %(now)s::timestamptz,
        updated_at = %(now)s::timestamptz
    FROM letters AS l
    WHERE j.id = l.id
    RETURNING j.id
)
INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
SELECT l.id, 'dead_lettered', %(now)s::timestamptz,
    l.metadata::jsonb
FROM letters AS l
JOIN linked ON linked.id = l.id
ORDER BY l.id
