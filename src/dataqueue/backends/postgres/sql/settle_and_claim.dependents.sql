-- settle_and_claim.dependents: after cancel_job, cancel_jobs or
-- reclaim_stuck_jobs (in their transaction), the jobs they changed that
-- held jobs may wait on go to settle_dependencies
-- (migrations/0020_dependent_cancelled_template.sql) with their new status,
-- when any job is held.
-- Parameters: ids (bigint[]), now, released_metadata (JSON text),
-- cancelled_template (a text[] of two: the JSON text of a dependent's
-- 'cancelled' event before and after its prerequisite's id), channel (the
-- wake-up channel).
-- Returns no row, or changed (how many held jobs were released or
-- cancelled).
SELECT {schema}.settle_dependencies(
    array_agg(id ORDER BY id), array_agg(status ORDER BY id),
    array_agg(next_attempt_at IS NOT NULL ORDER BY id), %(now)s::timestamptz,
    %(released_metadata)s::jsonb, %(cancelled_template)s::text[], %(channel)s::text
) AS changed
FROM {schema}.job_queue
WHERE id = ANY (%(ids)s::bigint[]) AND has_dependents
HAVING count(*) > 0
    AND EXISTS (SELECT 1 FROM {schema}.job_queue WHERE pending_reason = 'dependency')
