-- filter_by.job_type_status: get_jobs and count_jobs start from the job
-- type and status index.
j.job_type = :job_type AND j.status = :status
