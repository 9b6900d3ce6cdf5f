-- complete_token: a token still waiting becomes completed with its output.
-- The row lock taken by the UPDATE orders it against an expiry or another
-- completion (the later one finds the token no longer waiting) and against
-- a suspension reading the token FOR UPDATE. Its job is resumed by
-- complete_token.resume, a second statement of the same transaction, whose
-- fresh snapshot sees a suspension that committed while this one waited.
-- A refused completion reads the token's status in a statement of its own:
-- this statement's snapshot may predate the expiry whose lock it waited for.
-- Parameters: token_id, output (JSON text), now.
-- Returns the token's id when it was completed, no row otherwise.
UPDATE {schema}.waitpoints
SET status = 'completed',
    output = %(output)s::json,
    completed_at = %(now)s::timestamptz
WHERE id = %(token_id)s::text AND status = 'waiting'
RETURNING id
