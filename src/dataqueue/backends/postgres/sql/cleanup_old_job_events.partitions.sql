-- cleanup_old_job_events.partitions: on the partitioned layout (see
-- migrate_partitioned), drop the daily partitions of job_events that end at
-- or before the cutoff, and create today's and the next days' partitions.
-- Parameters: before, days_ahead. Returns how many events were dropped.
SELECT {schema}.event_partitions(
    %(before)s::timestamptz, %(days_ahead)s::integer
) AS n
