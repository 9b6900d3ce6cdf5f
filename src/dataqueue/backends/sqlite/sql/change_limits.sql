-- change_limits: store one job type's limits, decided in Python (the row as
-- it is after the change: limits.changed). A row with nothing limited and
-- no pause is deleted instead (change_limits.delete).
-- :job_type :concurrency :rate_count :rate_per :group_concurrency
-- :group_rate_count :group_rate_per :paused :now
INSERT INTO job_limits (
    job_type, concurrency, rate_count, rate_per, group_concurrency,
    group_rate_count, group_rate_per, paused, updated_at
)
VALUES (
    :job_type, :concurrency, :rate_count, :rate_per, :group_concurrency,
    :group_rate_count, :group_rate_per, :paused, :now
)
ON CONFLICT (job_type) DO UPDATE SET
    concurrency = excluded.concurrency,
    rate_count = excluded.rate_count,
    rate_per = excluded.rate_per,
    group_concurrency = excluded.group_concurrency,
    group_rate_count = excluded.group_rate_count,
    group_rate_per = excluded.group_rate_per,
    paused = excluded.paused,
    updated_at = excluded.updated_at
