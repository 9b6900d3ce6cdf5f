-- list_workers: the registered workers, by started_at (then id).
-- No parameters.
SELECT * FROM {schema}.workers ORDER BY started_at, id
