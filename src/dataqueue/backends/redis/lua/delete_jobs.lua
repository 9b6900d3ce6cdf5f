--[[ delete_jobs: delete those of the given jobs that are finished
  (completed, cancelled, failed for good: the finished zset), with their
  events, index entries and idempotency keys, as cleanup_old_jobs does.
  ARGV[1] prefix   ARGV[2..] job ids
  Returns the ids deleted. ]]
local deleted = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', K_FINISHED, id) then
    local job = load_job(id)
    if job then
      delete_job(id, job)
      deleted[#deleted + 1] = id
    end
  end
end
finish()
return deleted
