-- add_jobs.hold: a job this add just created stores its depends_on and is
-- held while it is unfinished (hold_for_dependencies, migrations/0014).
-- Parameters: id, job_ids (bigint[], batch_refs resolved), tags (text[]),
-- metadata (the 'held' event's, JSON text), now.
-- Returns held (whether the job is held).
SELECT {schema}.hold_for_dependencies(
    %(id)s::bigint, %(job_ids)s::bigint[], %(tags)s::text[], %(now)s::timestamptz,
    %(metadata)s::jsonb
) AS held
