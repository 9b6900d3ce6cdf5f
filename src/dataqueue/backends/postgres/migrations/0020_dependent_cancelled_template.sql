-- 0020_dependent_cancelled_template: settle_dependencies takes the
-- 'cancelled' event of a dependent as a template from Python
-- (_transitions.metadata_template of dependent_cancelled_metadata: its
-- JSON text cut in two where the prerequisite's id goes) and writes the
-- first part, the id and the second part, so the event's shape is decided
-- in Python alone; it added a 'prerequisite' key of its own to the
-- metadata it was given.
-- A function of its own (cancelled_template TEXT[] where 0018's takes
-- cancelled_metadata JSONB); 0018's stays for the workers of an earlier
-- release still running.
-- Formatted with the schema identifier; no parameters.

CREATE OR REPLACE FUNCTION {schema}.settle_dependencies(
    ended_ids BIGINT[], ended_statuses TEXT[], ended_retrying BOOLEAN[],
    changed_at TIMESTAMPTZ, released_metadata JSONB, cancelled_template TEXT[],
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
                    (cancelled_template[1] || done_id || cancelled_template[2])::jsonb);
                queue_ids := queue_ids || held.id;
                queue_doomed := queue_doomed || true;
                known_ids := known_ids || held.id;
                known_statuses := known_statuses || 'cancelled'::text;
                changed := changed + 1;
            ELSE
                IF cardinality(held.depends_on_tags) > 0 THEN
                    UPDATE {schema}.job_queue AS b SET has_dependents = true
                    WHERE b.tags @> held.depends_on_tags AND b.id <> held.id
                        AND coalesce(
                            known_statuses[array_position(known_ids, b.id)], b.status
                        ) IN ('pending', 'processing', 'waiting')
                        AND NOT b.has_dependents;
                END IF;
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
