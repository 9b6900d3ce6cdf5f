-- migrate_schema: create the schema if it does not exist.
-- No parameters.
CREATE SCHEMA IF NOT EXISTS {schema}
