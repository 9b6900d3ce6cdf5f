-- cancel_jobs.expire_tokens: the waiting tokens of jobs just cancelled
-- become timed_out, so that completing one later says it expired.
-- :ids (JSON list of job ids) :now
UPDATE waitpoints
SET status = 'timed_out', completed_at = :now
WHERE job_id IN (SELECT value FROM json_each(:ids)) AND status = 'waiting'
