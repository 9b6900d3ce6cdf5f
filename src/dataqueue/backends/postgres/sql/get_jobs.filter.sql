-- get_jobs.filter: the filter get_jobs, count_jobs, edit_jobs and
-- cancel_jobs share, written once and put in place of {job_filter} when the
-- statements load (connection.statements).
-- Parameters (NULL means no filter): job_type, priority, run_at_gt,
-- run_at_gte, run_at_lt, run_at_lte, run_at_eq, tags (text[]) and tag_mode
-- (all: every tag, any: at least one, none: none of them, exact: the same
-- set). The status filter is the statements' own (count_jobs has none).
(%(job_type)s::text IS NULL OR j.job_type = %(job_type)s::text)
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
