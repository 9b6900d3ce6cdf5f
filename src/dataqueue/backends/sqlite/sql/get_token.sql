-- get_token: one token by id.
-- :id
SELECT * FROM waitpoints WHERE id = :id
