-- change_limits.delete: a job type left with no limit and no pause keeps no
-- row, and no bucket. :job_type
DELETE FROM job_limits WHERE job_type = :job_type
