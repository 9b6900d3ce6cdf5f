-- enqueue_cron_jobs.record: the last step of enqueueing a claimed due time:
-- the job it inserted (:job_id, NULL when overlap blocked it) and the due
-- times that enqueued no job of their own (:skipped).
-- :id :job_id :skipped :now
UPDATE cron_schedules
SET last_job_id = coalesce(:job_id, last_job_id),
    last_enqueued_at = CASE WHEN :job_id IS NULL THEN last_enqueued_at ELSE :now END,
    skipped_runs = skipped_runs + :skipped
WHERE id = :id
