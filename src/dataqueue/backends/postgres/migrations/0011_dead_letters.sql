-- 0011_dead_letters: where a job goes once it fails for good
-- (dead_letter_job_type, given at add), and the dead letter it got then
-- (dead_letter_job_id, dead_lettered_at).
-- Formatted with the schema identifier; no parameters.

ALTER TABLE {schema}.job_queue
    ADD COLUMN dead_letter_job_type TEXT,
    ADD COLUMN dead_letter_job_id BIGINT,
    ADD COLUMN dead_lettered_at TIMESTAMPTZ;
