-- expire_timed_out_tokens: waiting tokens whose timeout_at has passed become
-- timed_out. Returns the ids expired (expire_timed_out_tokens.resume wakes
-- their jobs).
-- :now
UPDATE waitpoints
SET status = 'timed_out', completed_at = :now
WHERE status = 'waiting' AND timeout_at IS NOT NULL AND timeout_at <= :now
RETURNING id
