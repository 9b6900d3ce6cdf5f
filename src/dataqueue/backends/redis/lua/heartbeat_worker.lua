--[[ heartbeat_worker: refresh a registered worker's last_heartbeat, the
  jobs it runs and its counts.
  ARGV[1] prefix   ARGV[2] worker id   ARGV[3] now (us)
  ARGV[4] running_job_ids (JSON text)   ARGV[5] processed   ARGV[6] failed
  Returns 0 when the worker is not registered (removed as dead), 2 when it
  was asked to stop taking jobs, else 1. ]]
local id, now = ARGV[2], ARGV[3]
if not redis.call('ZSCORE', K_WORKERS, id) then return 0 end
redis.call('HSET', k_worker(id), 'last_heartbeat', now, 'running_job_ids', ARGV[4],
  'processed', ARGV[5], 'failed', ARGV[6])
redis.call('ZADD', K_WORKERS, now, id)
return redis.call('HGET', k_worker(id), 'quiet') == '1' and 2 or 1
