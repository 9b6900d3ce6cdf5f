-- change_limits: store one job type's limits as decided in Python (the row
-- after the change: limits.changed), or delete the row when nothing is
-- limited or paused (delete true); a changed rate (type_bucket) or group
-- rate (group_buckets) starts with full buckets: the stored ones go.
-- Parameters: job_type, concurrency, rate_count, rate_per,
-- group_concurrency, group_rate_count, group_rate_per, paused, delete,
-- type_bucket, group_buckets, now, channel (NOTIFY at commit: held jobs
-- may be due now).
WITH saved AS (
    INSERT INTO {schema}.job_limits AS l (
        job_type, concurrency, rate_count, rate_per, group_concurrency,
        group_rate_count, group_rate_per, paused, updated_at
    )
    SELECT %(job_type)s, %(concurrency)s, %(rate_count)s, %(rate_per)s,
        %(group_concurrency)s, %(group_rate_count)s, %(group_rate_per)s,
        %(paused)s, %(now)s::timestamptz
    WHERE NOT %(delete)s
    ON CONFLICT (job_type) DO UPDATE SET
        concurrency = excluded.concurrency,
        rate_count = excluded.rate_count,
        rate_per = excluded.rate_per,
        group_concurrency = excluded.group_concurrency,
        group_rate_count = excluded.group_rate_count,
        group_rate_per = excluded.group_rate_per,
        paused = excluded.paused,
        updated_at = excluded.updated_at
),
deleted AS (
    DELETE FROM {schema}.job_limits WHERE job_type = %(job_type)s AND %(delete)s
),
emptied AS (
    DELETE FROM {schema}.limit_buckets
    WHERE job_type = %(job_type)s
        AND ((group_id = '' AND %(type_bucket)s) OR (group_id <> '' AND %(group_buckets)s))
)
SELECT pg_notify(%(channel)s::text, '')
