-- settle_and_claim.candidates: the next claim_limit due jobs for a limited
-- claim's walk (limits.walk), in claim order, leaving out the types, the
-- (type, group) pairs (as "type<newline>group") and the group keys that
-- can take nothing now and the jobs the walk already looked at; locked
-- (SKIP LOCKED: a job another claim holds is not a candidate). Due as in
-- settle_and_claim (waiting jobs due were made pending by
-- settle_and_claim.resume; a job held by its dependencies is none). Read
-- as settle_and_claim reads its candidates, rendered the same two ways
-- (connection.py, CLAIM_FILTERS): typed, one ordered index walk per type
-- that stops at claim_limit (an = ANY test read and sorted every due job
-- of the types on each call).
-- Parameters: job_types (NULL: every type),
-- excluded_types, excluded_groups, excluded_any_groups, seen (bigint[]),
-- claim_limit, now. Returns id, job_type, group_id, pending_reason, status,
-- attempts.
WITH pending_due AS (
    SELECT p.*
    FROM {claim_types} AS t (job_type)
    CROSS JOIN LATERAL (
        SELECT id, job_type, group_id, pending_reason, status, attempts, priority,
            run_at
        FROM {schema}.job_queue
        WHERE status = 'pending' AND run_at <= %(now)s::timestamptz {type_walk_filter}
            AND pending_reason IS DISTINCT FROM 'dependency'
            AND job_type <> ALL (%(excluded_types)s::text[])
            AND (group_id IS NULL OR (
                group_id <> ALL (%(excluded_any_groups)s::text[])
                AND job_type || E'\n' || group_id <> ALL (%(excluded_groups)s::text[])
            ))
            AND id <> ALL (%(seen)s::bigint[])
        ORDER BY priority DESC, run_at, id
        LIMIT %(claim_limit)s::integer
        FOR UPDATE SKIP LOCKED
    ) AS p
),
retry_due AS (
    SELECT r.*
    FROM {claim_types} AS t (job_type)
    CROSS JOIN LATERAL (
        SELECT id, job_type, group_id, pending_reason, status, attempts, priority,
            run_at
        FROM {schema}.job_queue
        WHERE status = 'failed' AND next_attempt_at <= %(now)s::timestamptz
            {type_walk_filter}
            AND job_type <> ALL (%(excluded_types)s::text[])
            AND (group_id IS NULL OR (
                group_id <> ALL (%(excluded_any_groups)s::text[])
                AND job_type || E'\n' || group_id <> ALL (%(excluded_groups)s::text[])
            ))
            AND id <> ALL (%(seen)s::bigint[])
        ORDER BY priority DESC, run_at, id
        LIMIT %(claim_limit)s::integer
        FOR UPDATE SKIP LOCKED
    ) AS r
)
SELECT id, job_type, group_id, pending_reason, status, attempts
FROM (SELECT * FROM pending_due UNION ALL SELECT * FROM retry_due) AS due
ORDER BY priority DESC, run_at, id
LIMIT %(claim_limit)s::integer
