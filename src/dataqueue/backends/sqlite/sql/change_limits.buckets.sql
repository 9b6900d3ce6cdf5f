-- change_limits.buckets: a changed rate (:type_bucket = 1: the type's own,
-- group_id '') or group rate (:group_buckets = 1: every other) starts with
-- full buckets: its stored buckets go. :job_type :type_bucket :group_buckets
DELETE FROM limit_buckets
WHERE job_type = :job_type
    AND ((group_id = '' AND :type_bucket) OR (group_id <> '' AND :group_buckets))
