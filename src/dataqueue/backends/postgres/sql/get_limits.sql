-- get_limits: every stored row of limits and pauses, by job type.
-- Returns job_type, concurrency, rate_count, rate_per, group_concurrency,
-- group_rate_count, group_rate_per, paused.
SELECT job_type, concurrency, rate_count, rate_per, group_concurrency,
    group_rate_count, group_rate_per, paused
FROM {schema}.job_limits
ORDER BY job_type
