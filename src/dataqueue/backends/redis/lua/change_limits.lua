--[[ change_limits: change one job type's stored limits, or every stored
  row's, atomically; only the names given change.
  ARGV[1] prefix   ARGV[2] job type ('' : every stored row)
  ARGV[3] the changes as a JSON object: name (concurrency, rate,
    group_concurrency, group_rate, paused) -> value (null removes a limit;
    a rate is [count, per])
  A row left with no limit and no pause is deleted. A changed rate (or group
  rate) drops the type's (or its groups') stored buckets: it starts full.
  Wakes idle processors: held jobs may be due now.
  Returns the number of rows changed. ]]
local K_LIMITS = P .. 'limits'
local changes = cjson.decode(ARGV[3])
local job_types = {ARGV[2]}
if ARGV[2] == '' then job_types = redis.call('HKEYS', K_LIMITS) end
for _, job_type in ipairs(job_types) do
  local stored = redis.call('HGET', K_LIMITS, job_type)
  local row = stored and cjson.decode(stored) or {}
  for name, value in pairs(changes) do
    if value == cjson.null or value == false then row[name] = nil else row[name] = value end
  end
  if next(row) == nil then
    redis.call('HDEL', K_LIMITS, job_type)
  else
    redis.call('HSET', K_LIMITS, job_type, cjson.encode(row))
  end
  local buckets = P .. 'limit_buckets:' .. job_type
  if next(row) == nil or (changes.rate ~= nil and changes.group_rate ~= nil) then
    redis.call('DEL', buckets)
  elseif changes.rate ~= nil then
    redis.call('HDEL', buckets, '')
  elseif changes.group_rate ~= nil then
    for _, group in ipairs(redis.call('HKEYS', buckets)) do
      if group ~= '' then redis.call('HDEL', buckets, group) end
    end
  end
end
redis.call('PUBLISH', K_WAKEUP, 1)
return #job_types
