-- record_minute_stats: add what a worker counted to the rows of its
-- minutes and job types (created at 0), and drop the minutes older than
-- the cutoff, so the table holds at most a day of minutes.
-- Parameters: one array per column, in the same order (minutes, job_types,
-- started, completed, failed, first_starts, start_delay_seconds), and
-- before (the cutoff). Returns nothing.
WITH dropped AS (
    DELETE FROM {schema}.minute_stats WHERE minute < %(before)s::timestamptz
)
INSERT INTO {schema}.minute_stats AS m (
    minute, job_type, started, completed, failed, first_starts, start_delay_seconds
)
SELECT *
FROM unnest(
    %(minutes)s::timestamptz[],
    %(job_types)s::text[],
    %(started)s::bigint[],
    %(completed)s::bigint[],
    %(failed)s::bigint[],
    %(first_starts)s::bigint[],
    %(start_delay_seconds)s::double precision[]
)
ON CONFLICT (minute, job_type) DO UPDATE SET
    started = m.started + excluded.started,
    completed = m.completed + excluded.completed,
    failed = m.failed + excluded.failed,
    first_starts = m.first_starts + excluded.first_starts,
    start_delay_seconds = m.start_delay_seconds + excluded.start_delay_seconds
