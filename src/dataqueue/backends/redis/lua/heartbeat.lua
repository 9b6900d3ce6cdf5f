--[[ heartbeat: refresh the lock of every job still held under its lease, so
  that reclaim_stuck_jobs leaves a live worker's jobs alone.
  ARGV[1] prefix   ARGV[2] now (us)   ARGV[3..] job id, lease token, ...
  Returns the ids of the jobs still held (the others were lost). ]]
local now = ARGV[2]
local held = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local job = load_fields(id, {'lease_token'})
  if job and job.status == 'processing' and job.lease_token == ARGV[i + 1] then
    redis.call('HSET', k_job(id), 'locked_at', now)
    index_add(K_PROCESSING, now, id)
    held[#held + 1] = id
  end
end
finish()
return held
