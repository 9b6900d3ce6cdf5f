--[[ cleanup_old_job_events: delete one batch of events created before a time.
  ARGV[1] prefix   ARGV[2] before (us)   ARGV[3] batch size
  Returns how many events were deleted. ]]
local ids = redis.call('ZRANGEBYSCORE', K_EVENTS_BY_TIME, '-inf', '(' .. ARGV[2],
  'LIMIT', 0, tonumber(ARGV[3]))
for _, event_id in ipairs(ids) do delete_event(event_id) end
return #ids
