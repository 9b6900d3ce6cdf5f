--[[ get_minute_stats: the entries of the minutes from one to another (both
  included): one HGETALL per minute, at most a day of minutes.
  ARGV[1] prefix   ARGV[2] first minute   ARGV[3] last minute (since the epoch)
  Returns a flat list: minute, then its hash's field, value pairs as a
  list, for each minute that has entries. ]]
local found = {}
for minute = tonumber(ARGV[2]), tonumber(ARGV[3]) do
  local text = string.format('%d', minute)
  local entries = redis.call('HGETALL', k_minute_stats(text))
  if #entries > 0 then
    found[#found + 1] = text
    found[#found + 1] = entries
  end
end
return found
