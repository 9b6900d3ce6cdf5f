--[[ register_worker: record a processor under its id, replacing an earlier
  record of that id.
  ARGV[1] prefix   ARGV[2] worker id   ARGV[3] last_heartbeat (us)
  ARGV[4..] its hash fields as name, value pairs
  Returns 1. ]]
local id = ARGV[2]
redis.call('DEL', k_worker(id))
redis.call('HSET', k_worker(id), unpack(ARGV, 4))
redis.call('ZADD', K_WORKERS, ARGV[3], id)
return 1
