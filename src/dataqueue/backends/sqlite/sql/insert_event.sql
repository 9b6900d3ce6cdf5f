-- insert_event: append one entry to a job's event log.
-- :job_id :event_type :now :metadata (JSON or NULL)
INSERT INTO job_events (job_id, event_type, created_at, metadata)
VALUES (:job_id, :event_type, :now, :metadata)
