-- list_workers: every registered worker, by start time.
-- No parameters.
SELECT * FROM workers ORDER BY started_at, id
