-- get_actions: the newest :limit actions, newest first, through the key.
-- :limit
SELECT at, who, action, details
FROM actions
ORDER BY id DESC
LIMIT :limit
