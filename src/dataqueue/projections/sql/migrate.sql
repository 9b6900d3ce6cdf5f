-- migrate: the table PostgresProjectionProvider upserts into, and an index
-- for reading an entity's tasks. Safe to run again (IF NOT EXISTS).
-- Formatted with {table} and {index} identifiers; no parameters.

CREATE TABLE IF NOT EXISTS {table} (
    task_id TEXT PRIMARY KEY,
    entity_id TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    task_type TEXT NOT NULL,
    queue_id TEXT,
    status TEXT NOT NULL CHECK (
        status IN ('scheduled', 'processing', 'executed', 'failed')
    ),
    payload JSONB,
    error TEXT,
    result JSONB,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS {index} ON {table} (entity_type, entity_id);
