-- 0008_filter_indexes: the indexes get_jobs, count_jobs, edit_jobs and
-- cancel_jobs read for the common filters, so that a page or a count by
-- status, job type or tag reads the matching index entries instead of
-- every job: (status, id) gives a status's jobs newest first, (job_type,
-- status, id) a type's jobs per status (and counts by type from the index
-- alone), GIN (tags) the jobs holding tags (modes all, any and exact).
-- Formatted with the schema identifier; no parameters.

CREATE INDEX job_queue_status_idx ON {schema}.job_queue (status, id);
CREATE INDEX job_queue_type_status_idx ON {schema}.job_queue (job_type, status, id);
CREATE INDEX job_queue_tags_idx ON {schema}.job_queue USING GIN (tags);
