-- migrate_partitioned: the partitioned history layout, which a user opts
-- into with `dataqueue migrate --partitioned` (docs/scaling.md). job_events
-- becomes a table partitioned by created_at, one partition per UTC day
-- (job_events_YYYYMMDD), so that cleanup drops a whole day of events instead
-- of deleting it row by row. The events already there stay where they are:
-- the old table becomes the DEFAULT partition, which cleanup empties in
-- batches as before and which holds any event whose day has no partition.
-- Installs event_partitions(before, days_ahead), run by cleanup (see
-- cleanup_old_job_events.partitions): it creates the partitions of today
-- and the next days_ahead days (by the server's clock), moving their rows
-- out of the default partition first, and drops the daily partitions that
-- end at or before the cutoff, returning how many events they held.
-- Safe to run again. Formatted with the schema identifier; no parameters.

CREATE OR REPLACE FUNCTION {schema}.event_partitions(
    before TIMESTAMPTZ, days_ahead INTEGER
) RETURNS BIGINT
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
    today DATE := (now() AT TIME ZONE 'UTC')::date;
    day DATE;
    first_at TIMESTAMPTZ;
    end_at TIMESTAMPTZ;
    partition TEXT;
    held BIGINT;
    dropped BIGINT := 0;
BEGIN
-- Two supervisors must not create or drop the same partition at once.
PERFORM pg_advisory_xact_lock(to_regclass('{schema}.job_events')::oid::bigint);
FOR day IN SELECT today + n FROM generate_series(0, days_ahead) AS n LOOP
    partition := 'job_events_' || to_char(day, 'YYYYMMDD');
    CONTINUE WHEN to_regclass(format('{schema}.%I', partition)) IS NOT NULL;
    first_at := day::timestamp AT TIME ZONE 'UTC';
    end_at := (day + 1)::timestamp AT TIME ZONE 'UTC';
    EXECUTE format(
        'CREATE TABLE {schema}.%I (LIKE {schema}.job_events INCLUDING DEFAULTS)',
        partition
    );
    EXECUTE format(
        'WITH moved AS (DELETE FROM {schema}.job_events_default '
        'WHERE created_at >= %L AND created_at < %L RETURNING *) '
        'INSERT INTO {schema}.%I SELECT * FROM moved',
        first_at, end_at, partition
    );
    EXECUTE format(
        'ALTER TABLE {schema}.job_events ATTACH PARTITION {schema}.%I '
        'FOR VALUES FROM (%L) TO (%L)',
        partition, first_at, end_at
    );
END LOOP;
FOR partition, day IN
    SELECT c.relname, to_date(right(c.relname, 8), 'YYYYMMDD')
    FROM pg_inherits AS i
    JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = to_regclass('{schema}.job_events')
        AND c.relname ~ '^job_events_\d\d\d\d\d\d\d\d$'
    ORDER BY c.relname
LOOP
    CONTINUE WHEN ((day + 1)::timestamp AT TIME ZONE 'UTC') > before;
    EXECUTE format('SELECT count(*) FROM {schema}.%I', partition) INTO held;
    EXECUTE format('DROP TABLE {schema}.%I', partition);
    dropped := dropped + held;
END LOOP;
RETURN dropped;
END
$$;

DO $$
BEGIN
IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('{schema}.job_events')) = 'p' THEN
    RETURN;
END IF;
ALTER TABLE {schema}.job_events RENAME TO job_events_default;
-- The partitioned key includes created_at; attaching builds its index.
ALTER TABLE {schema}.job_events_default DROP CONSTRAINT job_events_pkey;
ALTER INDEX {schema}.job_events_job_id_idx RENAME TO job_events_default_job_id_idx;
ALTER INDEX {schema}.job_events_created_at_idx
    RENAME TO job_events_default_created_at_idx;
CREATE TABLE {schema}.job_events (
    id BIGINT NOT NULL DEFAULT nextval('{schema}.job_events_id_seq'),
    job_id BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    metadata JSONB,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX job_events_job_id_idx ON {schema}.job_events (job_id);
ALTER TABLE {schema}.job_events_default ALTER COLUMN id DROP DEFAULT;
ALTER SEQUENCE {schema}.job_events_id_seq OWNED BY {schema}.job_events.id;
ALTER TABLE {schema}.job_events ATTACH PARTITION {schema}.job_events_default DEFAULT;
END
$$;

-- Counted jobs: job_counts holds how many jobs there are per job type and
-- status, so that counting a schema that keeps millions of finished jobs
-- reads a few rows instead of every job (count_jobs.counted,
-- job_type_stats.counted). Statement-level triggers add each statement's
-- net change, one row per (job type, status, backend pid): a backend only
-- writes its own rows, so concurrent writers never wait on each other, and
-- rows are summed when read. compact_job_counts folds the rows of backends
-- that are gone into pid 0 and drops the rows that count nothing (run by
-- cleanup_old_jobs), skipping any row another transaction holds.

CREATE TABLE IF NOT EXISTS {schema}.job_counts (
    job_type TEXT NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (job_type, status, pid)
);

CREATE OR REPLACE FUNCTION {schema}.count_job_changes() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
IF TG_OP = 'INSERT' THEN
    INSERT INTO {schema}.job_counts AS c (job_type, status, pid, n)
    SELECT job_type, status, pg_backend_pid(), count(*)
    FROM added GROUP BY job_type, status ORDER BY job_type, status
    ON CONFLICT (job_type, status, pid) DO UPDATE SET n = c.n + excluded.n;
ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO {schema}.job_counts AS c (job_type, status, pid, n)
    SELECT job_type, status, pg_backend_pid(), -count(*)
    FROM removed GROUP BY job_type, status ORDER BY job_type, status
    ON CONFLICT (job_type, status, pid) DO UPDATE SET n = c.n + excluded.n;
ELSE
    INSERT INTO {schema}.job_counts AS c (job_type, status, pid, n)
    SELECT job_type, status, pg_backend_pid(), sum(change)
    FROM (
        SELECT job_type, status, 1 AS change FROM after_rows
        UNION ALL
        SELECT job_type, status, -1 FROM before_rows
    ) AS changes
    GROUP BY job_type, status
    HAVING sum(change) <> 0
    ORDER BY job_type, status
    ON CONFLICT (job_type, status, pid) DO UPDATE SET n = c.n + excluded.n;
END IF;
RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION {schema}.compact_job_counts() RETURNS void
LANGUAGE sql
AS $$
WITH gone AS (
    DELETE FROM {schema}.job_counts
    WHERE ctid IN (
        SELECT ctid FROM {schema}.job_counts
        WHERE pid <> 0
            AND pid NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
        FOR UPDATE SKIP LOCKED
    )
    RETURNING job_type, status, n
)
INSERT INTO {schema}.job_counts AS c (job_type, status, pid, n)
SELECT job_type, status, 0, sum(n) FROM gone
GROUP BY job_type, status ORDER BY job_type, status
ON CONFLICT (job_type, status, pid) DO UPDATE SET n = c.n + excluded.n;
DELETE FROM {schema}.job_counts
WHERE ctid IN (
    SELECT ctid FROM {schema}.job_counts WHERE n = 0 FOR UPDATE SKIP LOCKED
);
$$;

DO $$
BEGIN
IF EXISTS (
    SELECT 1 FROM pg_trigger
    WHERE tgrelid = to_regclass('{schema}.job_queue')
        AND tgname = 'job_queue_counted_inserts'
) THEN
    RETURN;
END IF;
-- Writers wait while the existing jobs are counted, so none is missed
-- or counted twice.
LOCK TABLE {schema}.job_queue IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO {schema}.job_counts (job_type, status, pid, n)
SELECT job_type, status, 0, count(*)
FROM {schema}.job_queue
GROUP BY job_type, status;
CREATE TRIGGER job_queue_counted_inserts
    AFTER INSERT ON {schema}.job_queue
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_job_changes();
CREATE TRIGGER job_queue_counted_updates
    AFTER UPDATE ON {schema}.job_queue
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_job_changes();
CREATE TRIGGER job_queue_counted_deletes
    AFTER DELETE ON {schema}.job_queue
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_job_changes();
END
$$;
