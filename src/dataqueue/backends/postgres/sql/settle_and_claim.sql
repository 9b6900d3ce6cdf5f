-- settle_and_claim: write a batch of outcomes, then claim, in one statement
-- (one round trip, one commit).
-- Each completion and failure matches its job by id, status 'processing'
-- and lease token, so an attempt that lost its lease changes nothing. A
-- completion stores its output (JSON text, kept exactly) and gets a
-- 'completed' event with its metadata; a failure appends its error entry to
-- error_history, sets failure_reason, last_failed_at and next_attempt_at,
-- and gets a 'failed' event with its metadata (entry and metadata built in
-- Python, _transitions.py). Both
-- clear the lock and the lease. A suspension stores step_data, gives back
-- the claim's attempt and makes its job waiting (wait_until or
-- wait_token_id) with a 'waiting' event; its token is read FOR UPDATE, so a
-- completion or expiry either committed first (the job is then due at once:
-- pending, run_at now, 'resumed' with the metadata prepared for how the
-- token ended) or waits for this statement and then sees the job waiting
-- (see complete_token.sql).
-- A completion, and a failure with a barrier outcome (Python gives one to
-- a failure with no next attempt), make a job final: a flow step among
-- them has its outcome (c_outcome, f_outcomes) given to the
-- barrier, record_flow_outcomes (see migrations/0007_abort_barrier.sql) in
-- their order in the batch, called once and only when there is such a
-- step, so plain jobs never reach it; the
-- flows it made ready are returned. One NOTIFY on finished_channel (at
-- commit), when any job became final, wakes whoever waits for a job to
-- finish. Both hang off the aggregate that sums up what was written: the
-- statement is planned on every call, and every CTE adds to that.
-- Completed and failed jobs that held jobs may wait on (flagged with
-- has_dependents: listed by id, or found blocking a drain), when any job is held,
-- go to settle_dependencies (migrations/0020_dependent_cancelled_template.sql)
-- with their new status: it releases or cancels the held jobs, by
-- _transitions' rule. A held job (pending_reason 'dependency') is never claimed.
-- Then up to claim_limit due jobs (pending with run_at reached, or failed
-- with next_attempt_at reached) move to processing under the new lease,
-- with a 'processing' event (processing_template's two parts with the
-- attempt's number between them; a job that spent an attempt before is
-- being retried: last_retried_at is set); waiting jobs whose wait_until has
-- come are due too (run_at becomes wait_until, with a 'resumed' event
-- before the 'processing' one: resumed_template's two parts with the JSON
-- of wait_until's ISO text, as Python's isoformat writes it, between
-- them). The kinds are read separately so pending jobs come straight off
-- the claim index in claim order (an OR of both
-- would sort every due job); FOR UPDATE SKIP LOCKED keeps concurrent claims
-- disjoint, and rows locked but not kept are released when the statement
-- ends. All parts read the snapshot taken before the statement, so the
-- claim never sees a job this statement settles (it was processing then).
-- The placeholders are rendered once per backend (connection.py,
-- CLAIM_FILTERS) into two statements instead of one optional filter, so
-- each keeps a plan of its own. Untyped, claim_types is one row and the walk
-- has no type test: pending jobs come off the claim index. Typed,
-- claim_types is the claim's job_types and pending and retried jobs are
-- walked one type at a time off 0009's (job_type, ...) indexes, each walk
-- stopping at claim_limit (an = ANY test would read and sort every due job
-- of the types); waiting jobs keep the job_type_filter test.
-- A claim that stored limits or a processor's group cap apply to (a row of
-- job_limits for one of its types, or '*'; group_concurrency set) is gated:
-- this statement claims nothing for it and says so (gated), and the claim
-- runs as limits.py of this store says, in a transaction of its own;
-- unless the caller names the caps (cap_types, caps: limits.Gate.fence)
-- and claim_fence (migrations/0019_claim_fence.sql) finds them still the
-- only limits with room for claim_limit more jobs: then the walk would
-- take what this claim takes and hold nothing, and the claim goes on. A
-- claimed job that a limit held (pending_reason set, read in this
-- statement's snapshot) gets a 'released' event before its 'processing',
-- its metadata picked by pending_reason from unheld_metadata (built in
-- Python).
-- Parameters: now, finished_channel, channel (the wake-up channel),
-- released_metadata and cancelled_template (of the dependency events;
-- the template is a text[] of two, see settle_and_claim.dependents.sql),
-- unheld_metadata (a JSON object: the 'released' metadata by hold reason);
-- completions: c_ids, c_tokens, c_outputs (JSON text), c_metadata (JSON
-- text), c_outcome (what a completed step reports); failures: f_ids,
-- f_tokens, f_errors (the error_history entry, JSON text), f_reasons,
-- f_next_at, f_metadata (the 'failed' event's, JSON text), f_outcomes (what
-- the step reports; NULL: not final); suspensions: s_ids, s_tokens,
-- s_step_data (JSON text), s_wait_until, s_token_ids, s_metadata (the
-- 'waiting' event's, JSON text), s_resumed_completed and s_resumed_timed_out
-- (the 'resumed' event's for a token that completed or timed out
-- meanwhile, JSON text); each kind's positions (c_positions,
-- f_positions, s_positions): where each outcome stands in the caller's
-- batch; claim: worker_id, token, claim_limit (0: claim nothing),
-- job_types (NULL: every type), group_concurrency, cap_types (text[],
-- empty: no fence), caps (integer[]), processing_template and
-- resumed_template (each a text[] of two, _transitions.metadata_template).
-- Returns at least one row: gated, settled (the positions of the outcomes written,
-- or NULL: a batch may hold a stale attempt's outcome beside the current
-- one for the same job, so job ids would not say which), ready_flows
-- (text[], or NULL when no flow step finished), finished (true when a job
-- became final), then the claimed job's columns (all NULL in the one row
-- when nothing was claimed), in claim order.
WITH completions AS (
    SELECT *
    FROM unnest(
        %(c_ids)s::bigint[], %(c_tokens)s::text[], %(c_outputs)s::text[],
        %(c_metadata)s::text[], %(c_positions)s::integer[]
    ) AS c (id, token, output, metadata, position)
),
completed AS (
    UPDATE {schema}.job_queue AS j
    SET status = 'completed',
        completed_at = %(now)s::timestamptz,
        output = c.output::json,
        locked_by = NULL,
        locked_at = NULL,
        lease_token = NULL,
        updated_at = %(now)s::timestamptz
    FROM completions AS c
    WHERE j.id = c.id AND j.status = 'processing' AND j.lease_token = c.token
    RETURNING j.id, c.position, c.metadata, j.flow_id, j.flow_step_index,
        %(c_outcome)s::text AS outcome,
        j.has_dependents AS dependents
),
failures AS (
    SELECT *
    FROM unnest(
        %(f_ids)s::bigint[], %(f_tokens)s::text[], %(f_errors)s::text[],
        %(f_reasons)s::text[], %(f_next_at)s::timestamptz[], %(f_metadata)s::text[],
        %(f_outcomes)s::text[], %(f_positions)s::integer[]
    ) AS f (id, token, error, reason, next_at, metadata, outcome, position)
),
failed AS (
    UPDATE {schema}.job_queue AS j
    SET status = 'failed',
        error_history = j.error_history || jsonb_build_array(f.error::jsonb),
        failure_reason = f.reason,
        last_failed_at = %(now)s::timestamptz,
        next_attempt_at = f.next_at,
        locked_by = NULL,
        locked_at = NULL,
        lease_token = NULL,
        updated_at = %(now)s::timestamptz
    FROM failures AS f
    WHERE j.id = f.id AND j.status = 'processing' AND j.lease_token = f.token
    RETURNING j.id, f.position, f.metadata, f.outcome, j.flow_id,
        j.flow_step_index, f.next_at IS NOT NULL AS retrying,
        j.has_dependents AS dependents
),
suspensions AS (
    SELECT *
    FROM unnest(
        %(s_ids)s::bigint[], %(s_tokens)s::text[], %(s_step_data)s::text[],
        %(s_wait_until)s::timestamptz[], %(s_token_ids)s::text[],
        %(s_metadata)s::text[], %(s_resumed_completed)s::text[],
        %(s_resumed_timed_out)s::text[], %(s_positions)s::integer[]
    ) AS s (id, token, step_data, wait_until, token_id, metadata,
        resumed_completed, resumed_timed_out, position)
),
token_states AS (
    SELECT w.id, w.status
    FROM {schema}.waitpoints AS w
    WHERE w.id IN (SELECT token_id FROM suspensions WHERE token_id IS NOT NULL)
    FOR UPDATE
),
suspended AS (
    UPDATE {schema}.job_queue AS j
    SET status = CASE
            WHEN s.token_id IS NOT NULL AND t.status IS DISTINCT FROM 'waiting'
            THEN 'pending' ELSE 'waiting'
        END,
        run_at = CASE
            WHEN s.token_id IS NOT NULL AND t.status IS DISTINCT FROM 'waiting'
            THEN %(now)s::timestamptz ELSE j.run_at
        END,
        step_data = s.step_data::json,
        wait_until = s.wait_until,
        wait_token_id = s.token_id,
        attempts = greatest(j.attempts - 1, 0),
        locked_by = NULL,
        locked_at = NULL,
        lease_token = NULL,
        updated_at = %(now)s::timestamptz
    FROM suspensions AS s
    LEFT JOIN token_states AS t ON t.id = s.token_id
    WHERE j.id = s.id AND j.status = 'processing' AND j.lease_token = s.token
    RETURNING j.id, s.position, j.status, s.metadata,
        CASE WHEN t.status = 'completed'
            THEN s.resumed_completed ELSE s.resumed_timed_out
        END AS resumed
),
gate AS (
    SELECT %(claim_limit)s::integer > 0 AND (
        %(group_concurrency)s::integer IS NOT NULL
        OR CASE WHEN cardinality(%(cap_types)s::text[]) = 0
            THEN EXISTS (
                SELECT 1 FROM {schema}.job_limits AS l
                WHERE l.job_type = '*'
                    OR %(job_types)s::text[] IS NULL
                    OR l.job_type = ANY (%(job_types)s::text[])
            )
            ELSE NOT {schema}.claim_fence(
                %(job_types)s::text[], %(cap_types)s::text[], %(caps)s::integer[],
                %(claim_limit)s::integer
            )
        END
    ) AS gated
),
waits_due AS (
    SELECT id, priority, wait_until AS run_at
    FROM {schema}.job_queue
    WHERE status = 'waiting' AND wait_until <= %(now)s::timestamptz {job_type_filter}
    ORDER BY wait_until
    LIMIT %(claim_limit)s::integer
    FOR UPDATE SKIP LOCKED
),
pending_due AS (
    SELECT p.*
    FROM {claim_types} AS t (job_type)
    CROSS JOIN LATERAL (
        SELECT id, priority, run_at
        FROM {schema}.job_queue
        WHERE status = 'pending' AND run_at <= %(now)s::timestamptz {type_walk_filter}
            AND pending_reason IS DISTINCT FROM 'dependency'
        ORDER BY priority DESC, run_at, id
        LIMIT %(claim_limit)s::integer
        FOR UPDATE SKIP LOCKED
    ) AS p
),
retry_due AS (
    SELECT r.*
    FROM {claim_types} AS t (job_type)
    CROSS JOIN LATERAL (
        SELECT id, priority, run_at
        FROM {schema}.job_queue
        WHERE status = 'failed' AND next_attempt_at <= %(now)s::timestamptz
            {type_walk_filter}
        ORDER BY priority DESC, run_at, id
        LIMIT %(claim_limit)s::integer
        FOR UPDATE SKIP LOCKED
    ) AS r
),
due AS (
    SELECT candidates.id
    FROM (
        SELECT * FROM pending_due
        UNION ALL
        SELECT * FROM retry_due
        UNION ALL
        SELECT * FROM waits_due
    ) AS candidates
    WHERE NOT (SELECT gated FROM gate)
    ORDER BY candidates.priority DESC, candidates.run_at, candidates.id
    LIMIT %(claim_limit)s::integer
),
held AS (
    SELECT j.id, j.pending_reason
    FROM {schema}.job_queue AS j
    JOIN due ON due.id = j.id
    WHERE j.pending_reason IS NOT NULL
),
claimed AS (
    UPDATE {schema}.job_queue AS j
    SET status = 'processing',
        locked_by = %(worker_id)s::text,
        locked_at = %(now)s::timestamptz,
        lease_token = %(token)s::text,
        run_at = CASE WHEN j.status = 'waiting' THEN j.wait_until ELSE j.run_at END,
        attempts = j.attempts + 1,
        started_at = coalesce(j.started_at, %(now)s::timestamptz),
        last_retried_at = CASE WHEN j.attempts > 0
            THEN %(now)s::timestamptz ELSE j.last_retried_at END,
        next_attempt_at = NULL,
        pending_reason = NULL,
        updated_at = %(now)s::timestamptz
    FROM due
    WHERE j.id = due.id
    RETURNING j.*
),
resumed_waits AS (
    SELECT w.id, w.run_at AS wait_until FROM waits_due AS w JOIN due ON due.id = w.id
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'completed', %(now)s::timestamptz, metadata::jsonb FROM completed
    UNION ALL
    SELECT id, 'failed', %(now)s::timestamptz, metadata::jsonb FROM failed
    UNION ALL
    SELECT id, 'waiting', %(now)s::timestamptz, metadata::jsonb FROM suspended
    UNION ALL
    SELECT id, 'resumed', %(now)s::timestamptz, resumed::jsonb
    FROM suspended
    WHERE status = 'pending'
    UNION ALL
    SELECT id, 'resumed', %(now)s::timestamptz, (
        (%(resumed_template)s::text[])[1]
        || to_jsonb(
            to_char(wait_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
            || CASE
                WHEN mod(extract(microseconds FROM wait_until)::bigint, 1000000) <> 0
                THEN to_char(wait_until AT TIME ZONE 'UTC', '.US') ELSE ''
            END
            || '+00:00'
        )::text
        || (%(resumed_template)s::text[])[2]
    )::jsonb
    FROM resumed_waits
    UNION ALL
    SELECT id, 'released', %(now)s::timestamptz,
        %(unheld_metadata)s::jsonb -> pending_reason
    FROM held
    UNION ALL
    SELECT id, 'processing', %(now)s::timestamptz, (
        (%(processing_template)s::text[])[1] || attempts::text
        || (%(processing_template)s::text[])[2]
    )::jsonb
    FROM claimed
),
settled AS (
    SELECT array_agg(position) AS settled,
        CASE WHEN bool_or(final AND flow_step_index IS NOT NULL)
            THEN {schema}.record_flow_outcomes(
                array_agg(flow_id ORDER BY position)
                    FILTER (WHERE final AND flow_step_index IS NOT NULL),
                array_agg(flow_step_index ORDER BY position)
                    FILTER (WHERE final AND flow_step_index IS NOT NULL),
                array_agg(outcome ORDER BY position)
                    FILTER (WHERE final AND flow_step_index IS NOT NULL),
                %(now)s::timestamptz
            )
        END AS ready_flows,
        CASE WHEN bool_or(final)
            THEN pg_notify(%(finished_channel)s::text, '') IS NOT NULL
            ELSE false
        END AS finished,
        CASE WHEN bool_or(dependents) AND EXISTS (
                SELECT 1 FROM {schema}.job_queue WHERE pending_reason = 'dependency'
            )
            THEN {schema}.settle_dependencies(
                array_agg(id ORDER BY position) FILTER (WHERE dependents),
                array_agg(status ORDER BY position) FILTER (WHERE dependents),
                array_agg(retrying ORDER BY position) FILTER (WHERE dependents),
                %(now)s::timestamptz, %(released_metadata)s::jsonb,
                %(cancelled_template)s::text[], %(channel)s::text
            )
        END AS dependents_changed
    FROM (
        SELECT position, true AS final, flow_id, flow_step_index, outcome,
            id, 'completed' AS status, false AS retrying, dependents
        FROM completed
        UNION ALL
        SELECT position, outcome IS NOT NULL, flow_id, flow_step_index, outcome,
            id, 'failed', retrying, dependents
        FROM failed
        UNION ALL
        SELECT position, false, NULL, NULL, NULL, id, NULL, false, false
        FROM suspended
    ) AS written
)
SELECT gate.gated, settled.*, claimed.*
FROM settled
CROSS JOIN gate
LEFT JOIN claimed ON true
ORDER BY claimed.priority DESC, claimed.run_at, claimed.id
