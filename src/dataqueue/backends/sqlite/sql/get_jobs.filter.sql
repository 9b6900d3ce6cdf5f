-- get_jobs.filter: the conditions get_jobs and count_jobs share (edit_jobs
-- and cancel_jobs select their ids through get_jobs), written once and put
-- in place of {job_filter} when the statements load. A NULL parameter does
-- not filter. Tag modes: all = has every value, any = has at least one,
-- none = has none, exact = the tag set equals the values.
-- :job_type :priority :status :statuses (JSON list: status must be one of
-- them) :run_at_gt :run_at_gte :run_at_lt :run_at_lte :run_at_eq :tag_mode
-- :tag_values (JSON list)
(:job_type IS NULL OR j.job_type = :job_type)
    AND (:priority IS NULL OR j.priority = :priority)
    AND (:status IS NULL OR j.status = :status)
    AND (:statuses IS NULL OR j.status IN (SELECT value FROM json_each(:statuses)))
    AND (:run_at_gt IS NULL OR j.run_at > :run_at_gt)
    AND (:run_at_gte IS NULL OR j.run_at >= :run_at_gte)
    AND (:run_at_lt IS NULL OR j.run_at < :run_at_lt)
    AND (:run_at_lte IS NULL OR j.run_at <= :run_at_lte)
    AND (:run_at_eq IS NULL OR j.run_at = :run_at_eq)
    AND (
        :tag_mode IS NULL
        OR (
            :tag_mode = 'any'
            AND j.id IN (
                SELECT t.job_id FROM job_tags AS t
                WHERE t.tag IN (SELECT value FROM json_each(:tag_values))
            )
        )
        OR (
            :tag_mode = 'none'
            AND j.id NOT IN (
                SELECT t.job_id FROM job_tags AS t
                WHERE t.tag IN (SELECT value FROM json_each(:tag_values))
            )
        )
        OR (
            :tag_mode IN ('all', 'exact')
            AND (
                SELECT count(*) FROM job_tags AS t
                WHERE t.job_id = j.id
                    AND t.tag IN (SELECT value FROM json_each(:tag_values))
            ) = json_array_length(:tag_values)
            AND (
                :tag_mode = 'all'
                OR (SELECT count(*) FROM job_tags AS t WHERE t.job_id = j.id)
                = json_array_length(:tag_values)
            )
        )
    )
