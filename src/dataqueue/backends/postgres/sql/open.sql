-- open: the newest migration applied to the schema; fails with an undefined
-- table error when the schema was never migrated.
-- No parameters.
SELECT coalesce(max(version), 0) AS version FROM {schema}.dataqueue_migrations
