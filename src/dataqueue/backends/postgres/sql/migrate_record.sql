-- migrate_record: remember that a migration was applied.
-- Parameters: version, name.
INSERT INTO {schema}.dataqueue_migrations (version, name)
VALUES (%(version)s::integer, %(name)s::text)
