--[[ reclaim_stuck_jobs: take back processing jobs whose lock was not
  refreshed for too long (their worker is gone). The lost attempt counts:
  a job with attempts left becomes pending, due now ('retried' event
  {"reclaimed_from"}); one that used max_attempts fails for good with
  failure_reason ARGV[7] ('failed' event; a flow step's ARGV[8]).
  ARGV[1] prefix   ARGV[2] now (us)   ARGV[3] threshold (us)
  ARGV[4] now - threshold (us): only jobs locked before it can be stuck
  ARGV[5] error_history entry of a final failure (JSON object)
  ARGV[6] metadata of its 'failed' event (JSON text)
  ARGV[7] its failure reason   ARGV[8] what a flow step reports for it
  ARGV[9] the dependency events (see settle_dependencies in _lib)
  A job is stuck when locked_at < now - max(threshold, its own timeout).
  Returns the ids of the jobs reclaimed, in id order. ]]
local now, threshold = ARGV[2], tonumber(ARGV[3])
local stuck, jobs = {}, {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_PROCESSING, '-inf', '(' .. ARGV[4])) do
  local job = load_job(id)
  if not job then
    redis.call('ZREM', K_PROCESSING, id)
  else
    local limit = math.max(threshold, (tonumber(job.timeout) or 0) * 1000000)
    if (tonumber(job.locked_at) or 0) < tonumber(now) - limit then
      stuck[#stuck + 1] = id
      jobs[id] = job
    end
  end
end
local reclaimed = sort_ids(stuck)
for _, id in ipairs(reclaimed) do
  local job = jobs[id]
  local owner = job.locked_by
  local changes = {
    updated_at = now, locked_by = false, locked_at = false, lease_token = false,
  }
  if (tonumber(job.attempts) or 0) >= (tonumber(job.max_attempts) or 1) then
    changes.status = 'failed'
    changes.error_history = append_entry(job.error_history, ARGV[5])
    changes.failure_reason = ARGV[7]
    changes.last_failed_at = now
    changes.next_attempt_at = false
    add_event(id, 'failed', now, ARGV[6])
    finished_for_good(job, ARGV[8], now)
  else
    changes.status = 'pending'
    changes.run_at = now
    add_event(id, 'retried', now, cjson.encode({reclaimed_from = owner}))
  end
  update(id, job, changes, now)
end
flush_indexes()
settle_dependencies(reclaimed, now, ARGV[9])
finish()
return reclaimed
