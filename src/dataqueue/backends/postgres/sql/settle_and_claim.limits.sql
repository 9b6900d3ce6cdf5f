-- settle_and_claim.limits: the first step of a claim that limits apply to
-- (settle_and_claim reported it gated): lock the limits rows of its
-- job_types (NULL: every type) and the pause of every type, in job type
-- order, so that such claims of overlapping types run one at a time and
-- each counts what the one before it claimed (the next statements take a
-- fresh snapshot). Parameters: job_types. Returns the columns of get_limits.
SELECT job_type, concurrency, rate_count, rate_per, group_concurrency,
    group_rate_count, group_rate_per, paused
FROM {schema}.job_limits
WHERE job_type = '*'
    OR %(job_types)s::text[] IS NULL
    OR job_type = ANY (%(job_types)s::text[])
ORDER BY job_type
FOR UPDATE
