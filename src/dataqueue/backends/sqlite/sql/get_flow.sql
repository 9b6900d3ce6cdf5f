-- get_flow: one flow by id.
-- :id
SELECT * FROM flows WHERE id = :id
