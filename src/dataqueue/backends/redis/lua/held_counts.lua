--[[ held_counts: pending jobs with a pending_reason (held by a limit, a
  pause or their dependencies), per job type and reason. Redis keeps no
  index of the held jobs: this reads each type's pending jobs in run_at
  order ({p}type_pending, where the held ones are the first), type after
  type by name, at most `limit` jobs in all.
  ARGV[1] prefix   ARGV[2] limit
  Returns {1 when every pending job was read else 0, job type, reason,
  count, job type, reason, count...}. ]]
local limit = tonumber(ARGV[2])
local types = redis.call('SMEMBERS', K_TYPES)
table.sort(types)
local read, complete = 0, 1
local answer = {0}
for _, job_type in ipairs(types) do
  local key = k_type_pending(job_type)
  local room = limit - read
  if room <= 0 then
    if redis.call('ZCARD', key) > 0 then
      complete = 0
      break
    end
  else
    local ids = redis.call('ZRANGE', key, 0, room - 1)
    if #ids == room and redis.call('ZCARD', key) > room then complete = 0 end
    local counts, reasons = {}, {}
    for _, id in ipairs(ids) do
      read = read + 1
      local reason = redis.call('HGET', k_job(id), 'pending_reason')
      if reason then
        if not counts[reason] then
          counts[reason] = 0
          reasons[#reasons + 1] = reason
        end
        counts[reason] = counts[reason] + 1
      end
    end
    for _, reason in ipairs(reasons) do
      answer[#answer + 1] = job_type
      answer[#answer + 1] = reason
      answer[#answer + 1] = counts[reason]
    end
  end
end
answer[1] = complete
return answer
