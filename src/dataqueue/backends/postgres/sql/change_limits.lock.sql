-- change_limits.lock: the rows a change of limits reads and rewrites,
-- locked: those of job_types (made first, empty, when missing, so that two
-- changes of a new type wait for each other: the upsert locks the row and
-- returns it either way), or every row when job_types is NULL (resume of
-- every type). Parameters: job_types (text[] or NULL), now.
-- Returns the columns of get_limits.
WITH made AS (
    INSERT INTO {schema}.job_limits AS l (job_type, updated_at)
    SELECT unnest(%(job_types)s::text[]), %(now)s::timestamptz
    ON CONFLICT (job_type) DO UPDATE SET job_type = l.job_type
    RETURNING l.job_type, l.concurrency, l.rate_count, l.rate_per,
        l.group_concurrency, l.group_rate_count, l.group_rate_per, l.paused
),
every_row AS (
    SELECT job_type, concurrency, rate_count, rate_per, group_concurrency,
        group_rate_count, group_rate_per, paused
    FROM {schema}.job_limits
    WHERE %(job_types)s::text[] IS NULL
    FOR UPDATE
)
SELECT * FROM made
UNION ALL
SELECT * FROM every_row
ORDER BY job_type
