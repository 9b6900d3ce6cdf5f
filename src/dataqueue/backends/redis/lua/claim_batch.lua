--[[ claim_batch: move up to ARGV[4] due jobs to processing for one worker.
  ARGV[1] prefix   ARGV[2] now (us)   ARGV[3] worker id   ARGV[4] batch size
  ARGV[5] JSON list of job types to claim, or "" for every type
  Due pending (run_at <= now) and retry-scheduled failed (next_attempt_at <=
  now) jobs first move into the ready zset: score -priority, member
  "<run_at>:<id>" zero-padded, so ZRANGE gives priority DESC, run_at, id.
  Returns one flat HGETALL array per claimed job, in claim order. ]]
local now, worker, size = ARGV[2], ARGV[3], tonumber(ARGV[4])
local types = nil
if ARGV[5] ~= '' then
  types = {}
  for _, job_type in ipairs(cjson.decode(ARGV[5])) do types[job_type] = true end
end

for _, key in ipairs({K_SCHEDULED, K_RETRY}) do
  while true do
    local ids = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, 500)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      redis.call('ZREM', key, id)
      local fields = redis.call('HMGET', k_job(id), 'priority', 'run_at')
      if fields[1] then
        redis.call('ZADD', K_READY, -tonumber(fields[1]), ready_member(id, fields[2]))
      end
    end
  end
end

local claimed = {}
local skipped = 0
while #claimed < size do
  local members = redis.call('ZRANGE', K_READY, skipped, skipped + 499)
  if #members == 0 then break end
  for _, member in ipairs(members) do
    local id = string.match(member, ':0*(%d+)$')
    local job = load_job(id)
    if not job or (job.status ~= 'pending' and job.status ~= 'failed') then
      redis.call('ZREM', K_READY, member)
    elseif types and not types[job.job_type] then
      skipped = skipped + 1
    else
      local attempt = tonumber(job.attempts) + 1
      update(id, job, {
        status = 'processing', locked_by = worker, locked_at = now,
        attempts = attempt, started_at = job.started_at or now,
        next_attempt_at = false, pending_reason = false, updated_at = now,
      })
      add_event(id, 'processing', now, cjson.encode({worker_id = worker, attempt = attempt}))
      claimed[#claimed + 1] = redis.call('HGETALL', k_job(id))
      if #claimed == size then break end
    end
  end
end
return claimed
