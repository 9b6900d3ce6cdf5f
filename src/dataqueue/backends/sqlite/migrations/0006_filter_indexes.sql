-- 0006_filter_indexes: the index get_jobs and count_jobs start from for a
-- job type and a status (filter_by.job_type_status), and that counts by job
-- type read alone (filter_by.job_type): (status, id), (job_type, id) and
-- job_tags (tag, job_id) serve the other filters.
-- Applied inside BEGIN IMMEDIATE.

CREATE INDEX job_queue_type_status ON job_queue (job_type, status, id);
