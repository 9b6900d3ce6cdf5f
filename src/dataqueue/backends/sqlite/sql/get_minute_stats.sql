-- get_minute_stats: the rows of the minutes from :since to :until (both
-- included), through the primary key; at most a day of minutes.
-- :since :until (epoch microseconds)
SELECT minute, job_type, started, completed, failed, first_starts, start_delay_seconds
FROM minute_stats
WHERE minute >= :since AND minute <= :until
ORDER BY minute, job_type
