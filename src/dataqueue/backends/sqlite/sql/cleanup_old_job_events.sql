-- cleanup_old_job_events: delete up to :batch_size events created before
-- :before. :before :batch_size
DELETE FROM job_events
WHERE id IN (
    SELECT id FROM job_events WHERE created_at < :before LIMIT :batch_size
)
