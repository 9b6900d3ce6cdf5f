-- migrate_table: the table recording which migrations were applied.
-- No parameters.
CREATE TABLE IF NOT EXISTS {schema}.dataqueue_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
