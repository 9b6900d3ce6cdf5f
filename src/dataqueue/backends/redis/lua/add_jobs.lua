--[[ add_jobs: insert jobs in order, honouring idempotency and dedupe keys
  atomically.
  ARGV[1] prefix   ARGV[2] now (us)
  ARGV[3..] one JSON object per job, as create_job() reads it, plus "key":
            its idempotency key (absent: none), and "dedupe" (absent: none):
            {"key", "mode", "expires_at" (us, or '': until the job
            finishes), "payload" and "run_at" (what a debounce gives the
            holder), "event" (the 'deduplicated' metadata, JSON text)}.
  A job whose dedupe key is held (dedupe_holder: the rule of
  _transitions.dedupe_holds) gets the holder's id; a debounce moves the
  pending holder. Otherwise it is inserted and {p}dedupe names it.
  A job's "depends_on" (absent: none): {"job_ids": [id text, ...], "batch":
  [index of another job of this call (from 0), ...], "tags": [...],
  "event": the 'held' metadata}: a new job stores it and is held while it
  is unfinished (hold_new in _lib). An id no job has refuses the whole call
  before anything is written: an error reply "DEPENDENCY_MISSING <JSON list>".
  A job already due goes straight to ready, a later one to scheduled.
  Publishes on the wake-up channel when a job was inserted.
  Returns {instance marker, {job id, ...}}: one id per ARGV[3..] (the existing
  job's id for a taken key). ]]
local now = ARGV[2]
local marker = instance()

-- The id of the job that holds rule.key against this add, and that job.
local function dedupe_holder(rule)
  local record = redis.call('HGET', K_DEDUPE, rule.key)
  if not record then return nil end
  local id, expires_at = string.match(record, '^(%d+)|(%d*)$')
  if expires_at ~= '' and tonumber(now) >= tonumber(expires_at) then return nil end
  local job = load_fields(id, {'dedupe_key', 'next_attempt_at', 'run_at', 'priority'})
  if not job or job.dedupe_key ~= rule.key then return nil end
  local status = job.status
  if rule.mode == 'debounce' and status ~= 'pending' then return nil end
  if rule.mode == 'until_done' and (status == 'completed' or status == 'cancelled'
    or (status == 'failed' and not job.next_attempt_at)) then
    return nil
  end
  return id, job
end
local specs, by_key, fresh = {}, {}, 0
local missing = {}
for i = 3, #ARGV do
  local spec = cjson.decode(ARGV[i])
  for _, id in ipairs(spec.depends_on and spec.depends_on.job_ids or {}) do
    if redis.call('EXISTS', k_job(id)) == 0 then missing[#missing + 1] = id end
  end
  if spec.key then
    -- A key taken earlier in this batch or before it.
    spec.same_as = by_key[spec.key]
    if not spec.same_as then
      spec.id = redis.call('HGET', K_IDEMPOTENCY, spec.key) or nil
      by_key[spec.key] = spec
    end
  end
  if not spec.same_as and not spec.id then
    spec.new = true
    fresh = fresh + 1
  end
  specs[#specs + 1] = spec
end

if #missing > 0 then
  return redis.error_reply('DEPENDENCY_MISSING ' .. cjson.encode(missing))
end

local next_id = fresh > 0 and reserve_ids(K_ID, fresh)
local ids = {}
for _, spec in ipairs(specs) do
  local rule = spec.dedupe
  local holder, job = nil, nil
  if rule then holder, job = dedupe_holder(rule) end
  if holder then
    spec.id = holder
    if rule.mode == 'debounce' then
      flush_indexes()  -- the holder may have been created by this call
      update(holder, job, {payload = rule.payload, run_at = rule.run_at, updated_at = now}, now)
      add_event(holder, 'deduplicated', now, rule.event)
      redis.call('HSET', K_DEDUPE, rule.key, holder .. '|' .. rule.expires_at)
    end
  elseif spec.new then
    local id = int_text(next_id)
    next_id = next_id + 1
    spec.id = id
    if spec.key then redis.call('HSET', K_IDEMPOTENCY, spec.key, id) end
    if rule then redis.call('HSET', K_DEDUPE, rule.key, id .. '|' .. rule.expires_at) end
    create_job(id, spec, now)
    spec.created = true
  end
  ids[#ids + 1] = spec.id or spec.same_as.id
end
for _, spec in ipairs(specs) do
  local depends_on = spec.created and spec.depends_on
  if depends_on then
    local job_ids, seen = {}, {}
    for _, id in ipairs(depends_on.job_ids) do seen[id] = true end
    for _, index in ipairs(depends_on.batch) do seen[ids[index + 1]] = true end
    for id in pairs(seen) do job_ids[#job_ids + 1] = id end
    job_ids = sort_ids(job_ids)
    hold_new(spec.id, job_ids, depends_on.tags, now, depends_on.event)
  end
end
finish()
if fresh > 0 then redis.call('PUBLISH', K_WAKEUP, fresh) end
return {marker, ids}
