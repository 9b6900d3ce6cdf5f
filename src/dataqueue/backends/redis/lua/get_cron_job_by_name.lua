--[[ get_cron_job_by_name: one schedule by its unique name.
  ARGV[1] prefix   ARGV[2] schedule name
  Returns the schedule hash as a flat field/value list (empty when absent). ]]
local id = redis.call('HGET', K_CRON_NAMES, ARGV[2])
if not id then return {} end
return redis.call('HGETALL', k_cron(id))
