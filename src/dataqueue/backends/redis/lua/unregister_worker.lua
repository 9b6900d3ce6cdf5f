--[[ unregister_worker: forget a worker (one shutting down).
  ARGV[1] prefix   ARGV[2] worker id
  Returns 1 if it was registered, else 0. ]]
local id = ARGV[2]
redis.call('DEL', k_worker(id))
return redis.call('ZREM', K_WORKERS, id)
