--[[ get_due_cron_jobs: active schedules whose next run has come, earliest
  first. Runs before every claim: when nothing is due it is one ZRANGEBYSCORE
  on the due index, which holds active schedules only.
  ARGV[1] prefix   ARGV[2] now (us)
  Returns one flat field/value list per schedule. ]]
local rows = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_CRON_DUE, '-inf', ARGV[2])) do
  rows[#rows + 1] = redis.call('HGETALL', k_cron(id))
end
return rows
