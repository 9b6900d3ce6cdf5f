--[[ cleanup_old_job_events: delete events created before a time, from at
  most one batch of jobs whose oldest event is older than it.
  ARGV[1] prefix   ARGV[2] before (us)   ARGV[3] batch size
  Each job taken has at least one such event, so a call that deletes fewer
  than the batch size has found them all.
  Returns how many events were deleted. ]]
local before = tonumber(ARGV[2])
local deleted = 0
local ids = redis.call('ZRANGEBYSCORE', K_EVENT_TIMES, '-inf', '(' .. ARGV[2],
  'LIMIT', 0, tonumber(ARGV[3]))
for _, job_id in ipairs(ids) do
  local key = k_events(job_id)
  local kept, oldest = {}, nil
  for _, entry in ipairs(redis.call('LRANGE', key, 0, -1)) do
    local created = tonumber(string.match(entry, '^[^\t]*\t[^\t]*\t([^\t]*)'))
    if created < before then
      deleted = deleted + 1
    else
      kept[#kept + 1] = entry
      if oldest == nil or created < oldest then oldest = created end
    end
  end
  redis.call('DEL', key)
  if #kept == 0 then
    redis.call('ZREM', K_EVENT_TIMES, job_id)
  else
    call_in_slices('RPUSH', key, kept)
    redis.call('ZADD', K_EVENT_TIMES, int_text(oldest), job_id)
  end
end
return deleted
