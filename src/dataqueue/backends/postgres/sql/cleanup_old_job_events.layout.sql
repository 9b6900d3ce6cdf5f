-- cleanup_old_job_events.layout: whether job_events is partitioned by day
-- (the layout of migrate_partitioned).
-- No parameters. Returns one row: partitioned (bool).
SELECT coalesce(bool_or(relkind = 'p'), false) AS partitioned
FROM pg_class
WHERE oid = to_regclass('{schema}.job_events')
