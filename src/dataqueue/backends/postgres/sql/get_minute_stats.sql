-- get_minute_stats: the rows of the minutes from `since` to `until` (both
-- included), through the primary key; at most a day of minutes.
-- Parameters: since, until. Returns minute_stats rows by minute, job type.
SELECT minute, job_type, started, completed, failed, first_starts, start_delay_seconds
FROM {schema}.minute_stats
WHERE minute >= %(since)s::timestamptz AND minute <= %(until)s::timestamptz
ORDER BY minute, job_type
