--[[ add_jobs: insert jobs in order, honouring idempotency keys atomically.
  ARGV[1] prefix   ARGV[2] now (us)
  ARGV[3..] one JSON object per job: {"fields": [name, value, ...] (strings),
            "tags": [...], "key": idempotency key or absent, "event": JSON text}
  Publishes on the wake-up channel when a job was inserted.
  Returns the job ids, one per ARGV[3..] (an existing id for a taken key). ]]
local now = ARGV[2]
local ids = {}
local inserted = 0
for i = 3, #ARGV do
  local spec = cjson.decode(ARGV[i])
  local existing = spec.key and redis.call('HGET', K_IDEMPOTENCY, spec.key)
  if existing then
    ids[#ids + 1] = tonumber(existing)
  else
    local id = redis.call('INCR', K_ID)
    if spec.key then redis.call('HSET', K_IDEMPOTENCY, spec.key, id) end
    redis.call('HSET', k_job(id), 'id', id, unpack(spec.fields))
    local job = load_job(id)
    redis.call('ZADD', K_ALL, id, id)
    redis.call('ZADD', k_status(job.status), id, id)
    redis.call('ZADD', k_type(job.job_type), id, id)
    for _, tag in ipairs(spec.tags) do redis.call('ZADD', k_tag(tag), id, id) end
    enqueue(id, job)
    add_event(id, 'added', now, spec.event)
    ids[#ids + 1] = id
    inserted = inserted + 1
  end
end
if inserted > 0 then redis.call('PUBLISH', K_WAKEUP, inserted) end
return ids
