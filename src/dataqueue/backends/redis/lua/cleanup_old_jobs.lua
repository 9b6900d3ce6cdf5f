--[[ cleanup_old_jobs: delete one batch of finished jobs (completed, cancelled,
  failed for good) last updated before a time, with their events, index
  entries and idempotency keys.
  ARGV[1] prefix   ARGV[2] before (us)   ARGV[3] batch size
  Returns how many jobs were deleted. ]]
local ids = redis.call('ZRANGEBYSCORE', K_FINISHED, '-inf', '(' .. ARGV[2],
  'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local job = load_job(id)
  if job then
    delete_job(id, job)
  else
    redis.call('ZREM', K_FINISHED, id)
  end
end
finish()
return #ids
