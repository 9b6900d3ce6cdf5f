-- upsert_projections: store a batch of entries in one statement, one row
-- per task_id (the provider keeps the last entry of a task in a batch).
-- A stored row is replaced only by an entry that is not behind it: a later
-- status (scheduled < processing < executed, failed), or the same rank at the
-- same time or later. So a report that arrives late (a `scheduled` from a web
-- process after the worker's `processing`) never moves a task back.
-- Parameters: one array per column, all of the same length; payload and
-- result are JSON text. Formatted with the {table} identifier.

INSERT INTO {table} AS p (
    task_id, entity_id, entity_type, task_type, queue_id, status,
    payload, error, result, created_at, updated_at
)
SELECT
    e.task_id, e.entity_id, e.entity_type, e.task_type, e.queue_id, e.status,
    e.payload::jsonb, e.error, e.result::jsonb, e.created_at, e.updated_at
FROM unnest(
    %(task_id)s::text[], %(entity_id)s::text[], %(entity_type)s::text[],
    %(task_type)s::text[], %(queue_id)s::text[], %(status)s::text[],
    %(payload)s::text[], %(error)s::text[], %(result)s::text[],
    %(created_at)s::timestamptz[], %(updated_at)s::timestamptz[]
) AS e (
    task_id, entity_id, entity_type, task_type, queue_id, status,
    payload, error, result, created_at, updated_at
)
ON CONFLICT (task_id) DO UPDATE SET
    entity_id = EXCLUDED.entity_id,
    entity_type = EXCLUDED.entity_type,
    task_type = EXCLUDED.task_type,
    queue_id = EXCLUDED.queue_id,
    status = EXCLUDED.status,
    payload = COALESCE(EXCLUDED.payload, p.payload),
    error = EXCLUDED.error,
    result = EXCLUDED.result,
    updated_at = EXCLUDED.updated_at
WHERE (
    CASE EXCLUDED.status WHEN 'scheduled' THEN 0 WHEN 'processing' THEN 1 ELSE 2 END,
    EXCLUDED.updated_at
) >= (
    CASE p.status WHEN 'scheduled' THEN 0 WHEN 'processing' THEN 1 ELSE 2 END,
    p.updated_at
)
