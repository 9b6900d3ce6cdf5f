-- record_minute_stats.forget: drop the minutes older than :before, so the
-- table holds at most a day of minutes (walks the primary key).
-- :before
DELETE FROM minute_stats WHERE minute < :before
