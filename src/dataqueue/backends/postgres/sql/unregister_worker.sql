-- unregister_worker: a worker stopping removes itself.
-- Parameters: id. Returns nothing.
DELETE FROM {schema}.workers WHERE id = %(id)s::text
