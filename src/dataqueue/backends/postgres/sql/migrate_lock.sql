-- migrate_lock: serialize migrations of one schema across processes, until
-- the migrating transaction ends.
-- Parameters: schema.
SELECT pg_advisory_xact_lock(hashtext('dataqueue migrate ' || %(schema)s::text))
