-- save_step: store a running attempt's step results (the job's whole
-- step_data, as the attempt holds it) while its lease holds; a lost lease
-- changes nothing. Also run by create_token, in the same transaction as the
-- token it records.
-- :id :token :step_data (JSON object) :now. Returns the id when stored.
UPDATE job_queue
SET step_data = :step_data, updated_at = :now
WHERE id = :id AND status = 'processing' AND lease_token = :token
RETURNING id
