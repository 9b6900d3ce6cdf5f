-- 0015_running_through_status: the running counts of limits
-- (settle_and_claim.usage) are read through job_queue_status, whose
-- (status, id) range of processing jobs holds as many rows as the workers
-- run; their own index held the same rows and cost every claim and every
-- settle two more index writes.
-- Applied inside BEGIN IMMEDIATE.

DROP INDEX job_queue_running;
