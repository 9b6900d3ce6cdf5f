--[[ migrate: fill the indexes added since a dataset's schema version for
  one budget of jobs, in ascending id order (adding an entry twice is
  harmless). Version 2 added {p}type_status:<status>:<job type>; version 3
  {p}types and {p}type_pending:<job type>.
  ARGV[1] prefix   ARGV[2] cursor ('' at first)   ARGV[3] budget
  Returns the cursor to call again with (false: done). ]]
local ids, cursor = walk_ids({K_ALL}, ARGV[2], tonumber(ARGV[3]), true)
for _, id in ipairs(ids) do
  local job = redis.call('HMGET', k_job(id), 'status', 'job_type', 'run_at')
  if job[1] then
    redis.call('ZADD', k_type_status(job[2], job[1]), id, id)
    redis.call('SADD', K_TYPES, job[2])
    if job[1] == 'pending' then redis.call('ZADD', k_type_pending(job[2]), job[3], id) end
  end
end
return cursor or false
