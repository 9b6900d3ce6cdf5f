-- create_token: a new waiting token for a job whose attempt has just stored
-- step_data under its lease (save_step, same transaction), so the token
-- exists exactly when the attempt's record of it does.
-- :id :job_id :timeout_at (NULL: never times out) :tags (JSON list) :now
INSERT INTO waitpoints (id, job_id, status, timeout_at, created_at, tags)
VALUES (:id, :job_id, 'waiting', :timeout_at, :now, :tags)
