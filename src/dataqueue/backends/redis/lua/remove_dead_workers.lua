--[[ remove_dead_workers: forget workers silent since before a time.
  ARGV[1] prefix   ARGV[2] before (us): a last heartbeat older than it is dead
  Returns how many workers were removed. ]]
local dead = redis.call('ZRANGEBYSCORE', K_WORKERS, '-inf', '(' .. ARGV[2])
for _, id in ipairs(dead) do redis.call('DEL', k_worker(id)) end
if #dead > 0 then call_in_slices('ZREM', K_WORKERS, dead) end
return #dead
