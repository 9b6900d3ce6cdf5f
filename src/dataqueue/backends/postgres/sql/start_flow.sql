-- start_flow: the flow's row and one row per step, the last statement of
-- the start_flow transaction: add_jobs has inserted the step jobs (with
-- their flow_id, flow_step_index and 'added' events) before it. The commit
-- makes the flow and its jobs visible together, so no step can finish
-- before its flow exists.
-- The flow is running, with every step still to finish.
-- Parameters: id, failure_policy, timeout_at (NULL: no deadline),
-- join_job_type, join_spec (opaque text), entity (JSON text or NULL), now,
-- step_indexes and job_ids (parallel arrays, in step order).
-- Returns nothing.
WITH flow AS (
    INSERT INTO {schema}.flows (
        id, status, failure_policy, total_steps, remaining_steps, timeout_at,
        join_job_type, join_spec, entity, created_at, updated_at
    )
    VALUES (
        %(id)s::text, 'running', %(failure_policy)s::text,
        cardinality(%(job_ids)s::bigint[]), cardinality(%(job_ids)s::bigint[]),
        %(timeout_at)s::timestamptz, %(join_job_type)s::text,
        %(join_spec)s::text, %(entity)s::json, %(now)s::timestamptz,
        %(now)s::timestamptz
    )
    RETURNING id
)
INSERT INTO {schema}.flow_steps (flow_id, step_index, job_id)
SELECT flow.id, s.step_index, s.job_id
FROM flow
CROSS JOIN unnest(%(step_indexes)s::integer[], %(job_ids)s::bigint[])
    AS s (step_index, job_id)
