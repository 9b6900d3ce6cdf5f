--[[ get_job_events: one job's events, oldest first.
  ARGV[1] prefix   ARGV[2] job id
  Returns a flat array: event id, "job_id TAB type TAB created_at TAB metadata", ... ]]
local rows = {}
for _, event_id in ipairs(redis.call('ZRANGE', k_job_events(ARGV[2]), 0, -1)) do
  local text = redis.call('HGET', K_EVENTS, event_id)
  if text then
    rows[#rows + 1] = event_id
    rows[#rows + 1] = text
  end
end
return rows
