-- filter_by.status: get_jobs and count_jobs start from the status index.
j.status = :status
