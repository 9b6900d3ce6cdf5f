-- 0002_leases: every claim stores a fresh random lease token on the jobs it
-- takes, and every write of a running attempt (settle, heartbeat, release,
-- prolong, progress) matches it, so that an attempt whose job was reclaimed
-- or released (or a restarted worker reusing the same worker_id) changes
-- nothing. Jobs left processing by a version without leases have none: no
-- attempt can write to them, and reclaim_stuck_jobs takes them back.
-- Leased writes find their job by id, so lease_token needs no index.
-- job_queue_reclaim goes: reclaim compares locked_at with each job's own
-- timeout, so it walks the processing jobs through job_queue_status and
-- never used it, while every claim and settle paid to keep it (about an
-- eighth of their time). Applied inside BEGIN IMMEDIATE.

ALTER TABLE job_queue ADD COLUMN lease_token TEXT;

DROP INDEX job_queue_reclaim;
