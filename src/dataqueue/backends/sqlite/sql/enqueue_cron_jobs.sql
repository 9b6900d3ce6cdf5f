-- enqueue_cron_jobs: claim one due time of a schedule, the first step of the
-- enqueue transaction (BEGIN IMMEDIATE makes the claim, the overlap check
-- and the job insert (add_jobs) one atomic step across processes). The claim moves
-- next_run_at from :claimed_run_at to :next_run_at and only succeeds while
-- the schedule is active and still has :claimed_run_at, so each due time is
-- claimed once. Returns allow_overlap and whether an instance of the schedule
-- is pending, processing or waiting; no row when the claim failed.
-- :schedule_id :claimed_run_at :next_run_at :now
UPDATE cron_schedules
SET next_run_at = :next_run_at, updated_at = :now
WHERE id = :schedule_id AND status = 'active' AND next_run_at = :claimed_run_at
RETURNING
    allow_overlap,
    EXISTS (
        SELECT 1 FROM job_queue
        WHERE cron_job_id = :schedule_id
            AND status IN ('pending', 'processing', 'waiting')
    ) AS busy
