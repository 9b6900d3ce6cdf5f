-- enqueue_flow_join.ready: whether the flow is ready, read first in the
-- join's transaction (BEGIN IMMEDIATE: no other writer can change it before
-- the commit), so that a flow not ready gets no join inserted.
-- :id. Returns a row when ready.
SELECT 1 FROM flows WHERE id = :id AND status = 'ready'
