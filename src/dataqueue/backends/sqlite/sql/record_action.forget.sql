-- record_action.forget: forget all but the newest :keep actions (walks the
-- primary key backwards, at most :keep entries); run after record_action.
-- :keep
DELETE FROM actions
WHERE id <= (SELECT id FROM actions ORDER BY id DESC LIMIT 1 OFFSET :keep)
