--[[ pause_cron_job: an active schedule stops enqueueing (and leaves the due
  index).
  ARGV[1] prefix   ARGV[2] schedule id   ARGV[3] now (us)
  Returns 1 when it changed, else 0. ]]
local id, now = ARGV[2], ARGV[3]
if redis.call('HGET', k_cron(id), 'status') ~= 'active' then return 0 end
redis.call('HSET', k_cron(id), 'status', 'paused', 'updated_at', now)
redis.call('ZREM', K_CRON_DUE, id)
return 1
