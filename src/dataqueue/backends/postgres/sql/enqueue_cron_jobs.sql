-- enqueue_cron_jobs: claim due times, the first statement of the enqueue
-- transaction; add_jobs then inserts the jobs of the claims that fire, and
-- enqueue_cron_jobs.record notes them on their schedules, before the commit.
-- A tick is claimed by moving its schedule's next_run_at from claimed_run_at
-- to next_run_at; only a schedule that is still active and still has
-- claimed_run_at qualifies, so of any number of concurrent callers exactly
-- one claims each due time (the row stays locked until the jobs are in).
-- Rows are locked in id order with SKIP LOCKED: a schedule locked by another
-- caller is being claimed (or edited) right now, and waiting for it could
-- only end in finding it claimed, or in deadlock.
-- The overlap check (allow_overlap false: no job of the schedule pending,
-- processing or waiting) is made in the same statement; a blocked due time is
-- still claimed, with no job, and counted in skipped_runs like the skipped
-- ones.
-- Parameters: one array per tick field: schedule_ids, claimed_run_ats,
-- next_run_ats, skipped; and now. Returns the claimed ticks' schedule_id and
-- whether their job is to be inserted (fire).
WITH input AS (
    SELECT *
    FROM unnest(
        %(schedule_ids)s::bigint[],
        %(claimed_run_ats)s::timestamptz[],
        %(next_run_ats)s::timestamptz[],
        %(skipped)s::bigint[]
    ) AS u (schedule_id, claimed_run_at, next_run_at, skipped)
),
locked AS (
    SELECT s.id, s.allow_overlap
    FROM {schema}.cron_schedules AS s
    JOIN input AS i ON i.schedule_id = s.id
    WHERE s.status = 'active' AND s.next_run_at = i.claimed_run_at
    ORDER BY s.id
    FOR UPDATE OF s SKIP LOCKED
),
decided AS (
    SELECT
        i.*,
        l.allow_overlap OR NOT EXISTS (
            SELECT 1
            FROM {schema}.job_queue AS j
            WHERE j.cron_job_id = l.id
                AND j.status IN ('pending', 'processing', 'waiting')
        ) AS fire
    FROM locked AS l
    JOIN input AS i ON i.schedule_id = l.id
)
UPDATE {schema}.cron_schedules AS s
SET next_run_at = d.next_run_at,
    skipped_runs = s.skipped_runs + d.skipped
        + CASE WHEN d.fire THEN 0 ELSE 1 END,
    last_enqueued_at = CASE WHEN d.fire
        THEN %(now)s::timestamptz ELSE s.last_enqueued_at END,
    updated_at = %(now)s::timestamptz
FROM decided AS d
WHERE s.id = d.schedule_id
RETURNING s.id AS schedule_id, d.fire
