--[[ heartbeat_worker: refresh a registered worker's last_heartbeat and the
  jobs it runs.
  ARGV[1] prefix   ARGV[2] worker id   ARGV[3] now (us)
  ARGV[4] running_job_ids (JSON text)
  Returns 1, or 0 when the worker is not registered (removed as dead). ]]
local id, now = ARGV[2], ARGV[3]
if not redis.call('ZSCORE', K_WORKERS, id) then return 0 end
redis.call('HSET', k_worker(id), 'last_heartbeat', now, 'running_job_ids', ARGV[4])
redis.call('ZADD', K_WORKERS, now, id)
return 1
