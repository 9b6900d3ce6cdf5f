-- set_output: store the output of a job still held under the attempt's
-- lease (ctx.set_output); a lost lease changes nothing. Returns the id when
-- it was stored. :id :token :output (JSON text or NULL) :now
UPDATE job_queue
SET output = :output, updated_at = :now
WHERE id = :id AND status = 'processing' AND lease_token = :token
RETURNING id
