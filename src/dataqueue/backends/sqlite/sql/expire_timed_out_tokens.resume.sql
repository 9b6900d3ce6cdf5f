-- expire_timed_out_tokens.resume: jobs waiting on one of :token_ids become
-- pending again (wait_token_id is kept so the handler can read the token's
-- result).
-- Returns id and wait_token_id of each job resumed. :token_ids (JSON list) :now
UPDATE job_queue
SET status = 'pending', updated_at = :now
WHERE status = 'waiting'
    AND wait_token_id IN (SELECT value FROM json_each(:token_ids))
RETURNING id, wait_token_id
