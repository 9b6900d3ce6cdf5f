-- open: the migrations applied to the schema; fails with an undefined table
-- error when the schema was never migrated.
-- No parameters. Returns one row: versions (int[], ascending).
SELECT coalesce(array_agg(version ORDER BY version), ARRAY[]::integer[]) AS versions
FROM {schema}.dataqueue_migrations
