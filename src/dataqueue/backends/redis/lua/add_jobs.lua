--[[ add_jobs: insert jobs in order, honouring idempotency keys atomically.
  ARGV[1] prefix   ARGV[2] now (us)
  ARGV[3..] one JSON object per job, as create_job() reads it, plus "key":
            its idempotency key (absent: none)
  A job already due goes straight to ready, a later one to scheduled.
  Publishes on the wake-up channel when a job was inserted.
  Returns {instance marker, {job id, ...}}: one id per ARGV[3..] (the existing
  job's id for a taken key). ]]
local now = ARGV[2]
local marker = instance()
local specs, by_key, fresh = {}, {}, 0
for i = 3, #ARGV do
  local spec = cjson.decode(ARGV[i])
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

local next_id = fresh > 0 and reserve_ids(K_ID, fresh)
local ids = {}
for _, spec in ipairs(specs) do
  if spec.new then
    local id = int_text(next_id)
    next_id = next_id + 1
    spec.id = id
    if spec.key then redis.call('HSET', K_IDEMPOTENCY, spec.key, id) end
    create_job(id, spec, now)
  end
  ids[#ids + 1] = spec.id or spec.same_as.id
end
finish()
if fresh > 0 then redis.call('PUBLISH', K_WAKEUP, fresh) end
return {marker, ids}
