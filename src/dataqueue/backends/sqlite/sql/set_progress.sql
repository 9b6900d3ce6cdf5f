-- set_progress: store a job's progress percentage. :id :progress :now
UPDATE job_queue SET progress = :progress, updated_at = :now WHERE id = :id
