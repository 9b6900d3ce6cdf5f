--[[ cancel_job: a pending or waiting job becomes cancelled; its waiting
  tokens become timed_out.
  ARGV[1] prefix   ARGV[2] job id   ARGV[3] now (us)
  ARGV[4] the cancel transition (JSON, see starts_from in _lib)
  ARGV[5] the dependency events (see settle_dependencies in _lib)
  Returns 1 if the job was cancelled, else 0. ]]
local id, now, transition = ARGV[2], ARGV[3], cjson.decode(ARGV[4])
local job = load_job(id)
if not job or not starts_from(transition, job.status) then return 0 end
cancel(id, job, now, transition)
settle_dependencies({id}, now, ARGV[5])
finish()
return 1
