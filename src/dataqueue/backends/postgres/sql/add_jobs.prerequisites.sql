-- add_jobs.prerequisites: which of the ids a call's depends_on names
-- exist, read before anything is written; they are locked FOR SHARE until
-- the add commits, so none finishes unseen meanwhile.
-- Parameters: ids (bigint[]).
-- Returns one row per job found: id.
SELECT id FROM {schema}.job_queue
WHERE id = ANY (%(ids)s::bigint[])
ORDER BY id
FOR SHARE
