--[[ set_progress: store a job's progress percentage.
  ARGV[1] prefix   ARGV[2] job id   ARGV[3] progress (0-100)   ARGV[4] now (us)
  Returns 1 if the job exists, else 0. ]]
local id = ARGV[2]
local job = load_job(id)
if not job then return 0 end
update(id, job, {progress = ARGV[3], updated_at = ARGV[4]})
return 1
