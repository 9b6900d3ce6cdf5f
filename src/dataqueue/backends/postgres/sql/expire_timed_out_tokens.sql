-- expire_timed_out_tokens: waiting tokens whose timeout_at has passed become
-- timed_out (the row locks order this against a completion: a token gets
-- one outcome). Their jobs are resumed by complete_token.resume, a second
-- statement of the same transaction.
-- Parameters: now. Returns the ids of the tokens expired.
UPDATE {schema}.waitpoints
SET status = 'timed_out', completed_at = %(now)s::timestamptz
WHERE status = 'waiting' AND timeout_at <= %(now)s::timestamptz
RETURNING id
