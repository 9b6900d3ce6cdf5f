-- settle_and_claim.candidates: the next :limit due jobs for a limited
-- claim's walk (limits.walk), in claim order, leaving out the types, the
-- (type, group) pairs and the group keys that can take nothing now and the
-- jobs the walk already looked at. Due as in settle_and_claim.claim.
-- :job_types (JSON list, NULL = any type) :excluded_types (JSON list)
-- :excluded_groups (JSON list of [type, group]) :excluded_any_groups (JSON
-- list) :seen (JSON list of ids) :limit :now
-- Returns id, job_type, group_id, pending_reason, status.
SELECT id, job_type, group_id, pending_reason, status FROM (
    SELECT * FROM (
        SELECT id, job_type, group_id, pending_reason, status, priority, run_at
        FROM job_queue INDEXED BY job_queue_claim_pending
        WHERE status = 'pending' AND run_at <= :now
            AND pending_reason IS NOT 'dependency'
            AND (
                :job_types IS NULL
                OR job_type IN (SELECT value FROM json_each(:job_types))
            )
            AND job_type NOT IN (SELECT value FROM json_each(:excluded_types))
            AND (group_id IS NULL OR (
                group_id NOT IN (SELECT value FROM json_each(:excluded_any_groups))
                AND NOT EXISTS (
                    SELECT 1 FROM json_each(:excluded_groups) AS pair
                    WHERE json_extract(pair.value, '$[0]') = job_type
                        AND json_extract(pair.value, '$[1]') = group_id
                )
            ))
            AND id NOT IN (SELECT value FROM json_each(:seen))
        ORDER BY priority DESC, run_at, id
        LIMIT :limit
    )
    UNION ALL
    SELECT * FROM (
        SELECT id, job_type, group_id, pending_reason, status, priority, run_at
        FROM job_queue INDEXED BY job_queue_claim_failed
        WHERE status = 'failed' AND next_attempt_at <= :now
            AND (
                :job_types IS NULL
                OR job_type IN (SELECT value FROM json_each(:job_types))
            )
            AND job_type NOT IN (SELECT value FROM json_each(:excluded_types))
            AND (group_id IS NULL OR (
                group_id NOT IN (SELECT value FROM json_each(:excluded_any_groups))
                AND NOT EXISTS (
                    SELECT 1 FROM json_each(:excluded_groups) AS pair
                    WHERE json_extract(pair.value, '$[0]') = job_type
                        AND json_extract(pair.value, '$[1]') = group_id
                )
            ))
            AND id NOT IN (SELECT value FROM json_each(:seen))
        ORDER BY priority DESC, run_at, id
        LIMIT :limit
    )
    ORDER BY priority DESC, run_at, id
    LIMIT :limit
)
