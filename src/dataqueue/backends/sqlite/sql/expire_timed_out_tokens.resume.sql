-- expire_timed_out_tokens.resume: jobs waiting on one of :token_ids (just
-- completed or expired) become pending and due now; wait_token_id stays, as
-- the record of the last wait. The handler reads the token's outcome when
-- it runs again. Shared by complete_token.
-- :token_ids (JSON list) :now. Returns id and wait_token_id of each job resumed.
UPDATE job_queue
SET status = 'pending', run_at = :now, updated_at = :now
WHERE status = 'waiting'
    AND wait_token_id IN (SELECT value FROM json_each(:token_ids))
RETURNING id, wait_token_id
