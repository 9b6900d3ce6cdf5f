-- settle_and_claim.limits: the stored limits a claim must obey: those of
-- its :job_types (JSON list, NULL = every type) and the pause of every type
-- ('*'). Returns the columns of get_limits.
SELECT job_type, concurrency, rate_count, rate_per, group_concurrency,
    group_rate_count, group_rate_per, paused
FROM job_limits
WHERE :job_types IS NULL
    OR job_type IN (SELECT value FROM json_each(:job_types))
    OR (job_type = '*' AND paused)
