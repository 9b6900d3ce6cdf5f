--[[ quiet_worker: ask a registered worker to stop taking jobs; it reads the
  flag back with its next heartbeat.
  ARGV[1] prefix   ARGV[2] worker id
  Returns 1, or 0 when there is no such worker. ]]
local id = ARGV[2]
if not redis.call('ZSCORE', K_WORKERS, id) then return 0 end
redis.call('HSET', k_worker(id), 'quiet', '1')
return 1
