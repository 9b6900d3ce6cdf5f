-- 0008_dead_letters: where a job goes once it fails for good
-- (dead_letter_job_type, given at add), and the dead letter it got then
-- (dead_letter_job_id, dead_lettered_at). Applied inside BEGIN IMMEDIATE.

ALTER TABLE job_queue ADD COLUMN dead_letter_job_type TEXT;
ALTER TABLE job_queue ADD COLUMN dead_letter_job_id INTEGER;
ALTER TABLE job_queue ADD COLUMN dead_lettered_at INTEGER;
