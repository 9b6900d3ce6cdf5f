--[[ prolong_job: refresh the lock of a job still held under the lease, and
  record a 'prolonged' event.
  ARGV[1] prefix   ARGV[2] job id   ARGV[3] lease token   ARGV[4] now (us)
  ARGV[5] metadata of the 'prolonged' event (JSON text)
  Returns 1 if prolonged, 0 if the lease is lost. ]]
local id, now = ARGV[2], ARGV[4]
if not held(id, ARGV[3]) then return 0 end
redis.call('HSET', k_job(id), 'locked_at', now, 'updated_at', now)
redis.call('ZADD', K_PROCESSING, now, id)
add_event(id, 'prolonged', now, ARGV[5])
finish()
return 1
