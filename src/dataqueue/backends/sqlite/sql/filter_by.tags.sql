-- filter_by.tags: get_jobs and count_jobs start from the jobs holding one of
-- :driver_tags (JSON list: the first tag of mode all or exact, every tag of
-- mode any).
j.id IN (
    SELECT t.job_id FROM job_tags AS t
    WHERE t.tag IN (SELECT value FROM json_each(:driver_tags))
)
