-- partition_history.layout: what partition_history (migrate_partitioned)
-- has set up in this schema: whether job_events is partitioned by day, and
-- whether job_counts keeps the jobs counted.
-- No parameters. Returns one row: partitioned (bool), counted (bool).
SELECT
    coalesce(
        (SELECT relkind = 'p' FROM pg_class
         WHERE oid = to_regclass('{schema}.job_events')),
        false
    ) AS partitioned,
    EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgrelid = to_regclass('{schema}.job_queue')
            AND tgname = 'job_queue_counted_updates'
    ) AS counted
