-- list_flows: flows (with one status, or all), newest first (rowid breaks
-- ties between flows started in the same microsecond).
-- :status (NULL: every status) :limit :offset
SELECT * FROM flows
WHERE :status IS NULL OR status = :status
ORDER BY created_at DESC, rowid DESC
LIMIT :limit OFFSET :offset
