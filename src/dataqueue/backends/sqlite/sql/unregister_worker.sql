-- unregister_worker: a processor stopped.
-- :id
DELETE FROM workers WHERE id = :id
