--[[ reclaim_stuck_jobs: take back processing jobs whose lock was not
  refreshed for too long (their worker is gone). The lost attempt counts:
  a job with attempts left becomes pending, due now ('retried' event,
  ARGV[11]'s two texts with the JSON of the worker that held it between
  them); one that used max_attempts fails for good with failure_reason
  ARGV[7] ('failed' event; a flow step's ARGV[8]).
  ARGV[1] prefix   ARGV[2] now (us)   ARGV[3] threshold (us)
  ARGV[4] now - threshold (us): only jobs locked before it can be stuck
  ARGV[5] error_history entry of a final failure (JSON object)
  ARGV[6] metadata of its 'failed' event (JSON text)
  ARGV[7] its failure reason   ARGV[8] what a flow step reports for it
  ARGV[9] the dependency events (see settle_dependencies in _lib)
  ARGV[10] the dead letters built in Python (_transitions.lost_worker_letter)
    for jobs an earlier call left to it, a JSON object: job id -> [the lease
    token it was read under, the letter as create_job() reads it (JSON text,
    or '' for none), the 'dead_lettered' event's metadata (a list of two
    texts the letter's id goes between, _transitions.metadata_template)].
  ARGV[11] the 'retried' event of a job with attempts left, a JSON list of
    two texts (_transitions.metadata_template of reclaimed_metadata).
  A job failed for good that names a dead_letter_job_type gets its letter in
  this same call, from ARGV[10] when it has one for the job under its
  current lease; without one the job is left as it is (still processing,
  not reclaimed) and returned whole, for Python to build its letter and
  call again.
  A job is stuck when locked_at < now - max(threshold, its own timeout).
  Returns {the ids of the jobs reclaimed, in id order; the JSON text of a
  list of the hashes of the jobs left for their letters}. ]]
local now, threshold = ARGV[2], tonumber(ARGV[3])
local letters = cjson.decode(ARGV[10])
local retried = cjson.decode(ARGV[11])
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
local reclaimed, wanting = {}, {}
for _, id in ipairs(sort_ids(stuck)) do
  local job = jobs[id]
  local owner = job.locked_by
  local spent = (tonumber(job.attempts) or 0) >= (tonumber(job.max_attempts) or 1)
  local letter = letters[id]
  if letter and letter[1] ~= job.lease_token then letter = nil end
  if spent and job.dead_letter_job_type and not letter then
    job.id = id
    wanting[#wanting + 1] = job
  else
    local changes = {
      updated_at = now, locked_by = false, locked_at = false, lease_token = false,
    }
    if spent then
      changes.status = 'failed'
      changes.error_history = append_entry(job.error_history, ARGV[5])
      changes.failure_reason = ARGV[7]
      changes.last_failed_at = now
      changes.next_attempt_at = false
      add_event(id, 'failed', now, ARGV[6])
      finished_for_good(job, ARGV[8], now)
      if letter and letter[2] ~= '' then
        local letter_id = int_text(reserve_ids(K_ID, 1))
        create_job(letter_id, cjson.decode(letter[2]), now)
        changes.dead_letter_job_id = letter_id
        changes.dead_lettered_at = now
        add_event(id, 'dead_lettered', now,
          letter[3][1] .. letter_id .. letter[3][2])
      end
    else
      changes.status = 'pending'
      changes.run_at = now
      -- cjson.encode(nil) is null, as _transitions says for no worker
      add_event(id, 'retried', now, retried[1] .. cjson.encode(owner) .. retried[2])
    end
    update(id, job, changes, now)
    reclaimed[#reclaimed + 1] = id
  end
end
flush_indexes()
settle_dependencies(reclaimed, now, ARGV[9])
finish()
return {reclaimed, #wanting > 0 and cjson.encode(wanting) or '[]'}
