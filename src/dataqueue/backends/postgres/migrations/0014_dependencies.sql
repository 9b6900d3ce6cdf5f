-- 0014_dependencies: depends_on as stored (depends_on_job_ids, the
-- prerequisites; depends_on_tags, the drain), has_dependents (set on a job
-- a held job lists by id, so that its finish looks for the held jobs), and
-- the two functions that apply _transitions' dependency rule. A held job is
-- pending with pending_reason 'dependency'; the claim passes it over, and
-- job_queue_held_idx lists the held jobs for the functions.
-- hold_for_dependencies(job_id, job_ids, tags, changed_at, held_metadata):
-- a job just added stores its depends_on, flags its prerequisites, and is
-- held (a 'held' event) when a prerequisite is not completed or another
-- active job's tags cover its drain. The prerequisites and the drain's
-- blockers are locked FOR SHARE first, so a finish committing meanwhile is
-- either seen here or sees this job (it waits for this transaction).
-- settle_dependencies(ended_ids, ended_statuses, ended_retrying,
-- changed_at, released_metadata, cancelled_metadata, wake_channel): jobs
-- that just changed, with their new status (given, so that a caller in
-- the same statement as the change need not see it) and whether a retry
-- is planned. Each held job that depends on one (lists its id, or its
-- drain is covered by the job's tags) is cancelled when that job is doomed
-- (failed for good or cancelled; its own dependents after it), else
-- released once no prerequisite is unfinished and no other active job
-- covers its drain. Held rows are locked (FOR UPDATE) before they are
-- judged, and each judgement reads afresh, so two prerequisites finishing
-- at once cannot both leave their dependent held. Returns how many jobs
-- changed; NOTIFYs wake_channel when one was released.
-- Formatted with the schema identifier; no parameters.

ALTER TABLE {schema}.job_queue
    ADD COLUMN depends_on_job_ids BIGINT[],
    ADD COLUMN depends_on_tags TEXT[],
    ADD COLUMN has_dependents BOOLEAN NOT NULL DEFAULT false;

CREATE INDEX job_queue_held_idx ON {schema}.job_queue (id)
    WHERE pending_reason = 'dependency';

CREATE OR REPLACE FUNCTION {schema}.hold_for_dependencies(
    new_id BIGINT, job_ids BIGINT[], drain TEXT[], changed_at TIMESTAMPTZ,
    held_metadata JSONB
) RETURNS BOOLEAN
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
    unfinished BOOLEAN;
    blocked BOOLEAN;
BEGIN
    UPDATE {schema}.job_queue
    SET depends_on_job_ids = nullif(job_ids, ARRAY[]::bigint[]),
        depends_on_tags = nullif(drain, ARRAY[]::text[])
    WHERE id = new_id;
    PERFORM 1 FROM {schema}.job_queue WHERE id = ANY (job_ids) ORDER BY id FOR SHARE;
    UPDATE {schema}.job_queue SET has_dependents = true
    WHERE id = ANY (job_ids) AND NOT has_dependents;
    SELECT EXISTS (
        SELECT 1 FROM unnest(job_ids) AS p (id)
        LEFT JOIN {schema}.job_queue AS j ON j.id = p.id
        WHERE j.status IS DISTINCT FROM 'completed'
    ) INTO unfinished;
    blocked := false;
    IF cardinality(drain) > 0 THEN
        PERFORM 1 FROM {schema}.job_queue
        WHERE tags @> drain AND id <> new_id
            AND status IN ('pending', 'processing', 'waiting')
        ORDER BY id
        FOR SHARE;
        SELECT EXISTS (
            SELECT 1 FROM {schema}.job_queue
            WHERE tags @> drain AND id <> new_id
                AND status IN ('pending', 'processing', 'waiting')
        ) INTO blocked;
    END IF;
    IF NOT (unfinished OR blocked) THEN
        RETURN false;
    END IF;
    UPDATE {schema}.job_queue SET pending_reason = 'dependency' WHERE id = new_id;
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    VALUES (new_id, 'held', changed_at, held_metadata);
    RETURN true;
END;
$$;

CREATE OR REPLACE FUNCTION {schema}.settle_dependencies(
    ended_ids BIGINT[], ended_statuses TEXT[], ended_retrying BOOLEAN[],
    changed_at TIMESTAMPTZ, released_metadata JSONB, cancelled_metadata JSONB,
    wake_channel TEXT
) RETURNS INTEGER
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
    queue_ids BIGINT[] := ended_ids;
    queue_doomed BOOLEAN[];
    known_ids BIGINT[] := ended_ids;
    known_statuses TEXT[] := ended_statuses;
    head INTEGER := 1;
    done_id BIGINT;
    done_tags TEXT[];
    held RECORD;
    still BOOLEAN;
    changed INTEGER := 0;
    released INTEGER := 0;
BEGIN
    queue_doomed := ARRAY(
        SELECT s = 'cancelled' OR (s = 'failed' AND NOT r)
        FROM unnest(ended_statuses, ended_retrying) AS u (s, r)
    );
    WHILE head <= coalesce(array_length(queue_ids, 1), 0) LOOP
        done_id := queue_ids[head];
        SELECT tags INTO done_tags FROM {schema}.job_queue WHERE id = done_id;
        FOR held IN
            SELECT j.id, j.depends_on_job_ids, j.depends_on_tags
            FROM {schema}.job_queue AS j
            WHERE j.pending_reason = 'dependency' AND j.status = 'pending'
                AND j.id <> done_id
                AND (
                    done_id = ANY (j.depends_on_job_ids)
                    OR (cardinality(j.depends_on_tags) > 0
                        AND done_tags @> j.depends_on_tags)
                )
            ORDER BY j.id
            FOR UPDATE
        LOOP
            IF queue_doomed[head] THEN
                UPDATE {schema}.job_queue
                SET status = 'cancelled', pending_reason = NULL,
                    last_cancelled_at = changed_at, updated_at = changed_at
                WHERE id = held.id;
                INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
                VALUES (held.id, 'cancelled', changed_at,
                    cancelled_metadata || jsonb_build_object('prerequisite', done_id));
                queue_ids := queue_ids || held.id;
                queue_doomed := queue_doomed || true;
                known_ids := known_ids || held.id;
                known_statuses := known_statuses || 'cancelled'::text;
                changed := changed + 1;
            ELSE
                SELECT EXISTS (
                    SELECT 1 FROM unnest(held.depends_on_job_ids) AS p (id)
                    LEFT JOIN {schema}.job_queue AS j ON j.id = p.id
                    WHERE coalesce(known_statuses[array_position(known_ids, p.id)], j.status)
                        IS DISTINCT FROM 'completed'
                ) OR (
                    cardinality(held.depends_on_tags) > 0 AND EXISTS (
                        SELECT 1 FROM {schema}.job_queue AS b
                        WHERE b.tags @> held.depends_on_tags AND b.id <> held.id
                            AND coalesce(
                                known_statuses[array_position(known_ids, b.id)], b.status
                            ) IN ('pending', 'processing', 'waiting')
                    )
                ) INTO still;
                IF NOT still THEN
                    UPDATE {schema}.job_queue
                    SET pending_reason = NULL, updated_at = changed_at
                    WHERE id = held.id;
                    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
                    VALUES (held.id, 'released', changed_at, released_metadata);
                    released := released + 1;
                END IF;
            END IF;
        END LOOP;
        head := head + 1;
    END LOOP;
    IF released > 0 THEN
        PERFORM pg_notify(wake_channel, '');
    END IF;
    RETURN changed + released;
END;
$$;
