--[[ _lib: shared by every script (prepended by scripts.py, never run alone).
  ARGV[1] is always the key prefix. Key names mirror keys.py exactly.
  Times are epoch microseconds, kept as the decimal strings Python sent:
  Lua's tostring() on big numbers loses digits, so numbers are only compared.
  Hash fields that are NULL are absent; `false` in a change table deletes. ]]
local P = ARGV[1]
local K_ID = P .. 'id'
local K_ALL = P .. 'all'
local K_IDEMPOTENCY = P .. 'idempotency'
local K_SCHEDULED = P .. 'scheduled'
local K_RETRY = P .. 'retry'
local K_READY = P .. 'ready'
local K_PROCESSING = P .. 'processing'
local K_FINISHED = P .. 'finished'
local K_EVENT_ID = P .. 'event_id'
local K_EVENTS = P .. 'events'
local K_EVENTS_BY_TIME = P .. 'events_by_time'
local K_TOKEN_TIMEOUTS = P .. 'token_timeouts'
local K_WAKEUP = P .. 'wakeup'
local function k_job(id) return P .. 'job:' .. id end
local function k_job_events(id) return P .. 'job_events:' .. id end
local function k_status(status) return P .. 'status:' .. status end
local function k_type(job_type) return P .. 'type:' .. job_type end
local function k_tag(tag) return P .. 'tag:' .. tag end
local function k_token(id) return P .. 'token:' .. id end
local K_CRON_ID = P .. 'cron_id'
local K_CRON_NAMES = P .. 'cron_names'
local K_CRON_ALL = P .. 'cron_all'
local K_CRON_DUE = P .. 'cron_due'
local function k_cron(id) return P .. 'cron:' .. id end
local function k_cron_jobs(id) return P .. 'cron_jobs:' .. id end

local function load_hash(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local row = {}
  for i = 1, #flat, 2 do row[flat[i]] = flat[i + 1] end
  return row
end

local function load_job(id) return load_hash(k_job(id)) end

-- Ready members sort by run_at then id among equal scores (-priority).
local function ready_member(id, run_at)
  return string.format('%017d:%020d', tonumber(run_at), tonumber(id))
end

local function unqueue(id, job)
  redis.call('ZREM', K_SCHEDULED, id)
  redis.call('ZREM', K_RETRY, id)
  redis.call('ZREM', K_READY, ready_member(id, job.run_at))
  redis.call('ZREM', K_PROCESSING, id)
  redis.call('ZREM', K_FINISHED, id)
end

local function enqueue(id, job)
  local status = job.status
  if status == 'pending' then
    redis.call('ZADD', K_SCHEDULED, job.run_at, id)
  elseif status == 'processing' then
    redis.call('ZADD', K_PROCESSING, job.locked_at, id)
  elseif status == 'failed' and job.next_attempt_at then
    redis.call('ZADD', K_RETRY, job.next_attempt_at, id)
  elseif status == 'failed' or status == 'completed' or status == 'cancelled' then
    redis.call('ZADD', K_FINISHED, job.updated_at, id)
  end
end

-- Apply `changes` (field -> string, or false to delete) to a loaded job and
-- keep every index in step with its new state.
local function update(id, job, changes)
  unqueue(id, job)
  if changes.status and changes.status ~= job.status then
    redis.call('ZREM', k_status(job.status), id)
    redis.call('ZADD', k_status(changes.status), id, id)
  end
  local set = {}
  for field, value in pairs(changes) do
    if value == false then
      redis.call('HDEL', k_job(id), field)
      job[field] = nil
    else
      set[#set + 1] = field
      set[#set + 1] = value
      job[field] = value
    end
  end
  if #set > 0 then redis.call('HSET', k_job(id), unpack(set)) end
  enqueue(id, job)
end

-- Metadata arrives as JSON text; tabs inside JSON text are always escaped.
local function add_event(job_id, event_type, now, metadata)
  local event_id = redis.call('INCR', K_EVENT_ID)
  redis.call('HSET', K_EVENTS, event_id,
    job_id .. '\t' .. event_type .. '\t' .. now .. '\t' .. metadata)
  redis.call('ZADD', k_job_events(job_id), event_id, event_id)
  redis.call('ZADD', K_EVENTS_BY_TIME, now, event_id)
end

local function delete_event(event_id)
  local text = redis.call('HGET', K_EVENTS, event_id)
  if text then
    local job_id = string.match(text, '^([^\t]*)')
    redis.call('ZREM', k_job_events(job_id), event_id)
  end
  redis.call('HDEL', K_EVENTS, event_id)
  redis.call('ZREM', K_EVENTS_BY_TIME, event_id)
end

local function delete_job(id, job)
  unqueue(id, job)
  redis.call('ZREM', k_status(job.status), id)
  redis.call('ZREM', K_ALL, id)
  redis.call('ZREM', k_type(job.job_type), id)
  for _, tag in ipairs(cjson.decode(job.tags)) do
    redis.call('ZREM', k_tag(tag), id)
  end
  if job.idempotency_key
    and redis.call('HGET', K_IDEMPOTENCY, job.idempotency_key) == job.id then
    redis.call('HDEL', K_IDEMPOTENCY, job.idempotency_key)
  end
  for _, event_id in ipairs(redis.call('ZRANGE', k_job_events(id), 0, -1)) do
    redis.call('HDEL', K_EVENTS, event_id)
    redis.call('ZREM', K_EVENTS_BY_TIME, event_id)
  end
  redis.call('DEL', k_job_events(id), k_job(id))
end

local function has_tags(job, filter)
  local have, count = {}, 0
  for _, tag in ipairs(cjson.decode(job.tags)) do
    have[tag] = true
    count = count + 1
  end
  local mode, values = filter.mode, filter.values
  if mode == 'any' then
    for _, tag in ipairs(values) do
      if have[tag] then return true end
    end
    return false
  end
  for _, tag in ipairs(values) do
    if (mode == 'none') == (have[tag] == true) then return false end
  end
  return mode ~= 'exact' or count == #values
end

local function in_range(value, range)
  local v = tonumber(value)
  return (range.gt == nil or v > tonumber(range.gt))
    and (range.gte == nil or v >= tonumber(range.gte))
    and (range.lt == nil or v < tonumber(range.lt))
    and (range.lte == nil or v <= tonumber(range.lte))
    and (range.eq == nil or v == tonumber(range.eq))
end

--[[ A filter is the JSON object built by backend.py: optional job_type,
  priority, status, statuses (a list: any of them), run_at {gt,gte,lt,lte,eq}
  and tags {mode, values}. Absent fields do not filter. ]]
local function matches(job, filter)
  if filter.status and job.status ~= filter.status then return false end
  if filter.statuses then
    local found = false
    for _, status in ipairs(filter.statuses) do
      if job.status == status then found = true end
    end
    if not found then return false end
  end
  if filter.job_type and job.job_type ~= filter.job_type then return false end
  if filter.priority and tonumber(job.priority) ~= filter.priority then return false end
  if filter.run_at and not in_range(job.run_at, filter.run_at) then return false end
  if filter.tags and not has_tags(job, filter.tags) then return false end
  return true
end

-- The smallest index zset that holds every job the filter can match.
local function candidate_key(filter)
  local best, best_count = K_ALL, redis.call('ZCARD', K_ALL)
  local function consider(key)
    local count = redis.call('ZCARD', key)
    if count < best_count then best, best_count = key, count end
  end
  if filter.status then consider(k_status(filter.status)) end
  if filter.statuses and #filter.statuses == 1 then
    consider(k_status(filter.statuses[1]))
  end
  if filter.job_type then consider(k_type(filter.job_type)) end
  if filter.tags and (filter.tags.mode == 'all' or filter.tags.mode == 'exact') then
    for _, tag in ipairs(filter.tags.values) do consider(k_tag(tag)) end
  end
  return best
end

-- Call visit(id, job) for each matching job, newest first, until it returns
-- false. Paging by score (= id) stays correct if visit changes the indexes.
local function each_match(filter, visit)
  local key = candidate_key(filter)
  local below = '+inf'
  while true do
    local ids = redis.call('ZREVRANGEBYSCORE', key, below, '-inf', 'LIMIT', 0, 500)
    if #ids == 0 then return end
    for _, id in ipairs(ids) do
      local job = load_job(id)
      if job and matches(job, filter) and visit(id, job) == false then return end
    end
    below = '(' .. ids[#ids]
  end
end

local function matching_ids(filter)
  local ids = {}
  each_match(filter, function(id) ids[#ids + 1] = id end)
  return ids
end
