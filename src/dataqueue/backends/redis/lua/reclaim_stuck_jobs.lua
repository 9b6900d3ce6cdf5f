--[[ reclaim_stuck_jobs: processing jobs locked too long go back to pending.
  ARGV[1] prefix   ARGV[2] now (us)   ARGV[3] threshold (us)
  ARGV[4] now - threshold (us): only jobs locked before it can be stuck
  A job is stuck when locked_at < now - max(threshold, its own timeout).
  Returns how many jobs were reclaimed. ]]
local now, threshold = ARGV[2], tonumber(ARGV[3])
local reclaimed = 0
local ids = redis.call('ZRANGEBYSCORE', K_PROCESSING, '-inf', '(' .. ARGV[4])
for _, id in ipairs(ids) do
  local job = load_job(id)
  local limit = math.max(threshold, tonumber(job.timeout or '0') * 1000000)
  if tonumber(job.locked_at) < tonumber(now) - limit then
    local owner = job.locked_by
    update(id, job, {
      status = 'pending', locked_by = false, locked_at = false, updated_at = now,
    })
    add_event(id, 'retried', now, cjson.encode({reclaimed_from = owner}))
    reclaimed = reclaimed + 1
  end
end
return reclaimed
