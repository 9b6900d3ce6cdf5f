-- enqueue_cron_jobs.record: the last statement of the enqueue transaction:
-- each schedule whose claim fired remembers the job add_jobs inserted for it.
-- Parameters: schedule_ids, job_ids (parallel arrays). Returns nothing.
UPDATE {schema}.cron_schedules AS s
SET last_job_id = u.job_id
FROM unnest(%(schedule_ids)s::bigint[], %(job_ids)s::bigint[])
    AS u (schedule_id, job_id)
WHERE s.id = u.schedule_id
