-- record_action: store one action; run in the same transaction as
-- record_action.forget, which follows it.
-- :at :who :action :details (JSON text)
INSERT INTO actions (at, who, action, details)
VALUES (:at, :who, :action, :details)
