-- get_actions: the newest `limit` actions, newest first, through the
-- primary key.
-- Parameters: limit. Returns actions rows (at, who, action, details).
SELECT at, who, action, details
FROM {schema}.actions
ORDER BY id DESC
LIMIT %(limit)s::bigint
