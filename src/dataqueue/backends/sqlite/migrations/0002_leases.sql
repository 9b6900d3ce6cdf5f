-- 0002_leases: every claim stores a fresh random lease token on the jobs it
-- takes, and every write of a running attempt (settle, heartbeat, release,
-- prolong, progress) matches it, so that an attempt whose job was reclaimed
-- or released (or a restarted worker reusing the same worker_id) changes
-- nothing. Jobs left processing by a version without leases have none: no
-- attempt can write to them, and reclaim_stuck_jobs takes them back.
-- No new index: leased writes find their job by id; reclaim walks
-- job_queue_reclaim. Applied inside BEGIN IMMEDIATE.

ALTER TABLE job_queue ADD COLUMN lease_token TEXT;
