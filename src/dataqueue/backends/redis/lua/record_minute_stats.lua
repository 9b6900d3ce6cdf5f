--[[ record_minute_stats: add what a worker counted to the hashes of its
  minutes; each hash expires a day and an hour after its minute, so at
  most that many minutes are kept.
  ARGV[1] prefix
  ARGV[2..] per entry: minute (since the epoch), seconds its hash lives on,
  job type, started, completed, failed, first_starts, start_delay_seconds
  Returns 1. ]]
local FIELDS = {'started', 'completed', 'failed', 'first_starts'}
for i = 2, #ARGV, 8 do
  local key = k_minute_stats(ARGV[i])
  local field_prefix = ARGV[i + 2] .. '\t'
  for n, field in ipairs(FIELDS) do
    redis.call('HINCRBY', key, field_prefix .. field, ARGV[i + 2 + n])
  end
  redis.call('HINCRBYFLOAT', key, field_prefix .. 'start_delay_seconds', ARGV[i + 7])
  redis.call('EXPIRE', key, ARGV[i + 1])
end
return 1
