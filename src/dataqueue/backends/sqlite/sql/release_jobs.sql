-- release_jobs: give back jobs a stopping worker claimed but will not finish
-- (their leases were checked by held_leases in the same transaction). Each
-- becomes pending and due now, keeping an earlier run_at so it keeps its
-- place in line, with the attempt it never made restored and the lock and
-- lease cleared. :ids (JSON list) :now. Returns the ids released.
UPDATE job_queue
SET status = 'pending',
    run_at = min(run_at, :now),
    attempts = max(attempts - 1, 0),
    locked_by = NULL,
    locked_at = NULL,
    lease_token = NULL,
    updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'processing'
RETURNING id
