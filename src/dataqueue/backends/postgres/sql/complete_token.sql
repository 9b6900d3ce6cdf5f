-- complete_token: a token still waiting becomes completed with its output.
-- The row lock taken by the UPDATE orders it against an expiry or another
-- completion (the later one finds the token no longer waiting) and against
-- a suspension reading the token FOR UPDATE. Its job is resumed by
-- complete_token.resume, a second statement of the same transaction, whose
-- fresh snapshot sees a suspension that committed while this one waited.
-- Parameters: token_id, output (JSON text), now.
-- Returns completed (the id, or NULL) and status (the token's status before,
-- NULL when there is no such token).
WITH completed AS (
    UPDATE {schema}.waitpoints
    SET status = 'completed',
        output = %(output)s::json,
        completed_at = %(now)s::timestamptz
    WHERE id = %(token_id)s::text AND status = 'waiting'
    RETURNING id
)
SELECT (SELECT id FROM completed) AS completed,
    (SELECT status FROM {schema}.waitpoints WHERE id = %(token_id)s::text) AS status
