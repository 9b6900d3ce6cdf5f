-- filter_by.job_type: get_jobs and count_jobs start from a job type index.
j.job_type = :job_type
