--[[ cancel_job: a pending or waiting job becomes cancelled; its waiting
  tokens become timed_out.
  ARGV[1] prefix   ARGV[2] job id   ARGV[3] now (us)
  Returns 1 if the job was cancelled, else 0. ]]
local id, now = ARGV[2], ARGV[3]
local job = load_job(id)
if not job or (job.status ~= 'pending' and job.status ~= 'waiting') then return 0 end
cancel(id, job, now)
finish()
return 1
