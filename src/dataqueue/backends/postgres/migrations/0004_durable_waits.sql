-- 0004_durable_waits: the claim takes waiting jobs whose wait_until has come
-- (durable time waits) straight off this index, in due order; it is empty
-- and costs nothing while no job waits on a time. 0002 dropped the index of
-- the same name when nothing read it. Tokens need nothing new: waitpoints
-- and the index of jobs waiting on a token exist since 0001.
-- Formatted with the schema identifier; no parameters.

CREATE INDEX job_queue_wait_until_idx ON {schema}.job_queue (wait_until)
    WHERE status = 'waiting';
