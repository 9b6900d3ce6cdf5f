-- remove_cron_job: delete a schedule. Jobs it enqueued stay; they keep its
-- id in cron_job_id.
-- Parameters: id. Returns the id when a schedule was deleted.
DELETE FROM {schema}.cron_schedules WHERE id = %(id)s::bigint RETURNING id
