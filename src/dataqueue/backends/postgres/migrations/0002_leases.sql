-- 0002_leases: leased claims, exact JSON, and only the indexes the queries use.
-- Formatted with the schema identifier; no parameters. Existing rows keep
-- their values (jsonb turns into its text form, which json keeps as is).
--
-- * lease_token: the random token of the claim holding a processing job;
--   every write of an attempt matches it, so a stale attempt changes nothing.
-- * payload, output, step_data (and token outputs) become json: it keeps
--   the text it was given, so 1e16, -0.0 and 5e-324 come back as the same
--   Python floats (jsonb would turn 1e16 into an int and -0.0 into 0).
-- * failure_reason gains worker_lost (a job whose worker died too often).
-- * Every status change rewrites the row into every index that covers it.
--   What is left: the primary key, a partial index per state that a query
--   looks up (pending claim order, due retries, processing for reclaim,
--   waiting tokens, finished rows for cleanup), and the idempotency keys
--   that exist. Gone: (status, updated_at), job_type, the GIN on tags and
--   the unused flow_id and wait_until indexes; reads filtering on those walk
--   the primary key newest first. The processing index is on id, not
--   locked_at, so that a heartbeat touches no indexed column.
-- * job_events loses its foreign key (checked, with a row lock on the job,
--   for every event); cleanup_old_jobs deletes a job's events itself. Its
--   created_at index becomes a BRIN index: events arrive in time order.

ALTER TABLE {schema}.job_queue
    ADD COLUMN lease_token TEXT,
    ALTER COLUMN payload TYPE JSON USING payload::json,
    ALTER COLUMN output TYPE JSON USING output::json,
    ALTER COLUMN step_data TYPE JSON USING step_data::json,
    DROP CONSTRAINT job_queue_failure_reason_check,
    ADD CONSTRAINT job_queue_failure_reason_check CHECK (
        failure_reason IN ('timeout', 'handler_error', 'no_handler', 'worker_lost')
    ),
    DROP CONSTRAINT job_queue_idempotency_key_key;

ALTER TABLE {schema}.waitpoints ALTER COLUMN output TYPE JSON USING output::json;

CREATE UNIQUE INDEX job_queue_idempotency_key_idx ON {schema}.job_queue (idempotency_key)
    WHERE idempotency_key IS NOT NULL;

DROP INDEX {schema}.job_queue_cleanup_idx;
DROP INDEX {schema}.job_queue_job_type_idx;
DROP INDEX {schema}.job_queue_tags_idx;
DROP INDEX {schema}.job_queue_flow_idx;
DROP INDEX {schema}.job_queue_wait_until_idx;
DROP INDEX {schema}.job_queue_reclaim_idx;

CREATE INDEX job_queue_processing_idx ON {schema}.job_queue (id)
    WHERE status = 'processing';
CREATE INDEX job_queue_finished_idx ON {schema}.job_queue (updated_at)
    WHERE status IN ('completed', 'failed', 'cancelled');

ALTER TABLE {schema}.job_events DROP CONSTRAINT job_events_job_id_fkey;
DROP INDEX {schema}.job_events_created_at_idx;
CREATE INDEX job_events_created_at_idx ON {schema}.job_events USING BRIN (created_at);
