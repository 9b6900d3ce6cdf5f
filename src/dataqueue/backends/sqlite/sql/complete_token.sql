-- complete_token: a token still waiting becomes completed with its output.
-- The status condition makes completion and expiry exclusive: whichever
-- writes first wins, the other finds the token no longer waiting (writers
-- are serialized by BEGIN IMMEDIATE). Its job is resumed by
-- expire_timed_out_tokens.resume in the same transaction.
-- :id :output (JSON) :now. Returns the id when completed.
UPDATE waitpoints
SET status = 'completed', output = :output, completed_at = :now
WHERE id = :id AND status = 'waiting'
RETURNING id
