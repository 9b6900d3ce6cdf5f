--[[ get_minute_stats: the entries of the minutes from one to another (both
  included): one HGETALL per minute, at most a day of minutes.
  ARGV[1] prefix   ARGV[2] first minute   ARGV[3] last minute (since the epoch)
  Returns JSON text: {minute: {"type TAB field": value}} for each minute
  that has entries (one string: a day of entries is thousands of fields). ]]
local found = {}
local any = false
for minute = tonumber(ARGV[2]), tonumber(ARGV[3]) do
  local text = string.format('%d', minute)
  local entries = redis.call('HGETALL', k_minute_stats(text))
  if #entries > 0 then
    local fields = {}
    for i = 1, #entries, 2 do fields[entries[i]] = entries[i + 1] end
    found[text] = fields
    any = true
  end
end
return any and cjson.encode(found) or '{}'
