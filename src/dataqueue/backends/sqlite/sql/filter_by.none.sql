-- filter_by.none: get_jobs and count_jobs start from every job, newest first.
true
