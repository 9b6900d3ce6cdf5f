-- remove_dead_workers: forget workers whose last heartbeat is older than
-- :before (walks workers_heartbeat).
-- :before
DELETE FROM workers WHERE last_heartbeat < :before
