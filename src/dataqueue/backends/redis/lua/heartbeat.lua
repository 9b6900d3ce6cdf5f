--[[ heartbeat: refresh the lock of every job still held under its lease, so
  that reclaim_stuck_jobs leaves a live worker's jobs alone.
  ARGV[1] prefix   ARGV[2] now (us)   ARGV[3..] job id, lease token, ...
  Returns the ids of the jobs still held (the others were lost). ]]
local now = ARGV[2]
local alive = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  if held(id, ARGV[i + 1]) then
    redis.call('HSET', k_job(id), 'locked_at', now)
    index_add(K_PROCESSING, now, id)
    alive[#alive + 1] = id
  end
end
finish()
return alive
