-- get_token: one token by id.
-- Parameters: token_id.
SELECT * FROM {schema}.waitpoints WHERE id = %(token_id)s::text
