--[[ job_type_stats: per job type, its counts per status, the run_at of its
  oldest pending job due at now, and the attempts that completed or failed
  since a minute. Reads what _lib keeps (the types set, the type+status
  index's sizes, one type_pending zset per type, one ended hash per
  minute): the work grows with the number of types and minutes, never with
  the number of jobs.
  ARGV[1] prefix   ARGV[2] now (us)   ARGV[3] first minute   ARGV[4] last minute
  Returns JSON text: [[job_type, {status: jobs}, oldest run_at (us) or
  false, completed, failed], ...] for each type with jobs. ]]
local now = ARGV[2]
local STATUSES = {'pending', 'processing', 'completed', 'failed', 'cancelled', 'waiting'}
local ended = {}
for minute = tonumber(ARGV[3]), tonumber(ARGV[4]) do
  local entries = redis.call('HGETALL', k_ended(string.format('%d', minute)))
  for i = 1, #entries, 2 do
    ended[entries[i]] = (ended[entries[i]] or 0) + tonumber(entries[i + 1])
  end
end
local stats = {}
for _, job_type in ipairs(redis.call('SMEMBERS', K_TYPES)) do
  local by_status = {}
  local jobs = 0
  for _, status in ipairs(STATUSES) do
    by_status[status] = redis.call('ZCARD', k_type_status(job_type, status))
    jobs = jobs + by_status[status]
  end
  if jobs > 0 then
    local oldest = redis.call('ZRANGEBYSCORE', k_type_pending(job_type), '-inf', now,
      'LIMIT', 0, 1)[1]
    stats[#stats + 1] = {
      job_type, by_status, oldest and redis.call('HGET', k_job(oldest), 'run_at') or false,
      ended[job_type .. '\tcompleted'] or 0, ended[job_type .. '\tfailed'] or 0,
    }
  end
end
return cjson.encode(stats)
