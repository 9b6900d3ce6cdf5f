-- record_minute_stats: add one entry a worker counted to the row of its
-- minute and job type (created at 0); run once per entry, in the same
-- transaction as record_minute_stats.forget.
-- :minute :job_type :started :completed :failed :first_starts
-- :start_delay_seconds
INSERT INTO minute_stats AS m (
    minute, job_type, started, completed, failed, first_starts, start_delay_seconds
)
VALUES (
    :minute, :job_type, :started, :completed, :failed, :first_starts,
    :start_delay_seconds
)
ON CONFLICT (minute, job_type) DO UPDATE SET
    started = m.started + excluded.started,
    completed = m.completed + excluded.completed,
    failed = m.failed + excluded.failed,
    first_starts = m.first_starts + excluded.first_starts,
    start_delay_seconds = m.start_delay_seconds + excluded.start_delay_seconds
