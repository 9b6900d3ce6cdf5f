-- record_action: store one action and, in the same statement, forget all
-- but the newest `keep` (the delete sees the rows as they were before the
-- insert: it keeps keep - 1 of them, and the new one makes keep). Walks
-- the primary key backwards, at most `keep` entries.
-- Parameters: at, who, action, details (JSON text), keep (>= 1).
-- Returns nothing.
WITH forgotten AS (
    DELETE FROM {schema}.actions
    WHERE id <= (
        SELECT id FROM {schema}.actions
        ORDER BY id DESC
        OFFSET %(keep)s::bigint - 1
        LIMIT 1
    )
)
INSERT INTO {schema}.actions (at, who, action, details)
VALUES (
    %(at)s::timestamptz, %(who)s::text, %(action)s::text, %(details)s::json
)
