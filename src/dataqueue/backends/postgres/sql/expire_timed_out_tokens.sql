-- expire_timed_out_tokens: waiting tokens whose timeout_at has passed become
-- timed_out; the jobs waiting on them become pending again (keeping
-- wait_token_id, so the handler can see why it woke) with a 'resumed' event.
-- Parameters: now. Returns how many tokens expired.
WITH expired AS (
    UPDATE {schema}.waitpoints
    SET status = 'timed_out', completed_at = %(now)s::timestamptz
    WHERE status = 'waiting' AND timeout_at <= %(now)s::timestamptz
    RETURNING id
),
resumed AS (
    UPDATE {schema}.job_queue AS j
    SET status = 'pending', updated_at = %(now)s::timestamptz
    FROM expired
    WHERE j.status = 'waiting' AND j.wait_token_id = expired.id
    RETURNING j.id, j.wait_token_id
),
logged AS (
    INSERT INTO {schema}.job_events (job_id, event_type, created_at, metadata)
    SELECT id, 'resumed', %(now)s::timestamptz,
        jsonb_build_object('token_id', wait_token_id, 'timed_out', true)
    FROM resumed
    ORDER BY id
)
SELECT count(*) AS n FROM expired
