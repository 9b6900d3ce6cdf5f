--[[ list_cron_jobs: every schedule, or those with one status, oldest first.
  ARGV[1] prefix   ARGV[2] status ('active', 'paused', or '' for all)
  Returns one flat field/value list per schedule. ]]
local status = ARGV[2]
local rows = {}
for _, id in ipairs(redis.call('ZRANGE', K_CRON_ALL, 0, -1)) do
  if status == '' or redis.call('HGET', k_cron(id), 'status') == status then
    local flat = redis.call('HGETALL', k_cron(id))
    if #flat > 0 then rows[#rows + 1] = flat end
  end
end
return rows
