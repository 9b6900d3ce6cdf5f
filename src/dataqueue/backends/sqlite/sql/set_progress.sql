-- set_progress: store the progress percentage of a job still held under the
-- attempt's lease; a lost lease changes nothing. Returns the id when it was
-- stored. :id :token :progress :now
UPDATE job_queue
SET progress = :progress, updated_at = :now
WHERE id = :id AND status = 'processing' AND lease_token = :token
RETURNING id
