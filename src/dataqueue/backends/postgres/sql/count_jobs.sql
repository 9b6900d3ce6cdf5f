-- count_jobs: how many jobs match the filters, per status (statuses with
-- no job have no row).
-- Filter parameters (NULL means no filter): job_type, priority, run_at_gt,
-- run_at_gte, run_at_lt, run_at_lte, run_at_eq, tags (text[]) and tag_mode
-- (all: every tag, any: at least one, none: none of them, exact: the same
-- set). There is no status filter: the counts are per status.
-- Returns status, n.
SELECT j.status, count(*) AS n
FROM {schema}.job_queue AS j
WHERE true
    AND (%(job_type)s::text IS NULL OR j.job_type = %(job_type)s::text)
    AND (%(priority)s::integer IS NULL OR j.priority = %(priority)s::integer)
    AND (%(run_at_gt)s::timestamptz IS NULL OR j.run_at > %(run_at_gt)s::timestamptz)
    AND (%(run_at_gte)s::timestamptz IS NULL OR j.run_at >= %(run_at_gte)s::timestamptz)
    AND (%(run_at_lt)s::timestamptz IS NULL OR j.run_at < %(run_at_lt)s::timestamptz)
    AND (%(run_at_lte)s::timestamptz IS NULL OR j.run_at <= %(run_at_lte)s::timestamptz)
    AND (%(run_at_eq)s::timestamptz IS NULL OR j.run_at = %(run_at_eq)s::timestamptz)
    AND (
        %(tags)s::text[] IS NULL
        OR CASE %(tag_mode)s::text
            WHEN 'all' THEN j.tags @> %(tags)s::text[]
            WHEN 'any' THEN j.tags && %(tags)s::text[]
            WHEN 'none' THEN NOT j.tags && %(tags)s::text[]
            ELSE j.tags @> %(tags)s::text[] AND j.tags <@ %(tags)s::text[]
        END
    )
GROUP BY j.status
