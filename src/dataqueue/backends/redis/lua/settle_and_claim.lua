--[[ settle_and_claim: write finished attempts under their leases, then claim
  due jobs under a new lease, in one call.
  ARGV[1] prefix   ARGV[2] now (us)
  ARGV[3] the outcomes as a JSON list (one argument parses faster than many),
    each a list of strings: kind ('c' completed, 'f' failed, 's'
    suspended), job id, lease token, then
      c: output (JSON text), metadata of the 'completed' event (JSON text),
         what a flow step reports to its barrier
      f: error_history entry (JSON object text), failure reason,
         next_attempt_at (us, or '' when failed for good), metadata of the
         'failed' event (JSON text), what a flow step reports to its barrier
         ('' when the job is not final), its dead letter (the job as
         create_job() reads it, JSON text, or '') and the 'dead_lettered'
         event's metadata (JSON object text without the letter's id, which
         is added here)
      s: step_data (JSON text), wait_until (us, or ''), token id (or ''),
         metadata of the 'waiting' event (JSON text), then of the 'resumed'
         event for a token that completed, and for one that timed out. The
         job waits with its attempt given back; if its token is already
         resolved it is due at once instead (pending, 'resumed').
  Every metadata and entry is built in Python (_transitions.py).
  ARGV[4] claim limit (0: no claim)   ARGV[5] worker id   ARGV[6] lease token
  ARGV[7] job types (JSON list, or '' for every type)
  ARGV[8] {"worker_id": ...} as JSON text: the start of each 'processing'
    event's metadata
  An outcome is written only while its job is processing under its token.
  An outcome with a barrier outcome finishes the job for good: a flow
  step's outcome goes to the barrier (record_step in _lib).
  Waiting jobs whose wait_until has come (in waits) become pending first,
  with a 'resumed' event, at most PROMOTE per call.
  Due jobs wait in ready (score -priority, member "<run_at>:<id>" zero-padded,
  so ZRANGE gives priority DESC, run_at, id). Jobs that became due in
  scheduled or retry are promoted first, at most PROMOTE per zset and call,
  so a large backlog falling due never blocks Redis in one script; until it
  is all promoted, claims see it in run_at order a slice at a time.
  Returns {instance marker, {1|0 per outcome}, claimed, {id of each flow
  the outcomes made ready, ...}}: claimed is the JSON
  text of a list of the claimed jobs' hashes as objects (one string parses far
  faster in the client than an array per field), each job's id taken from
  its ready member, so a job whose hash is damaged still comes back with it. ]]
local PROMOTE = 1000
local now = ARGV[2]
local marker = instance()

local settled = {}
local letters = 0
for _, outcome in ipairs(cjson.decode(ARGV[3])) do
  local kind, id, token = outcome[1], outcome[2], outcome[3]
  local job = held(id, token,
    {'error_history', 'attempts', 'priority', 'flow_id', 'flow_step_index'})
  if job then
    local changes = {
      updated_at = now, locked_by = false, locked_at = false, lease_token = false,
    }
    if kind == 's' then
      local wake_at, token_id = outcome[5], outcome[6]
      changes.status = 'waiting'
      changes.step_data = outcome[4]
      changes.attempts = tostring(math.max((tonumber(job.attempts) or 1) - 1, 0))
      changes.wait_until = wake_at ~= '' and wake_at
      changes.wait_token_id = token_id ~= '' and token_id
      add_event(id, 'waiting', now, outcome[7])
      local resolved = token_id ~= '' and redis.call('HGET', k_token(token_id), 'status')
      if resolved and resolved ~= 'waiting' then
        changes.status = 'pending'
        changes.run_at = now
        add_event(id, 'resumed', now,
          resolved == 'completed' and outcome[8] or outcome[9])
      end
    elseif kind == 'c' then
      changes.status = 'completed'
      changes.completed_at = now
      changes.output = outcome[4]
      add_event(id, 'completed', now, outcome[5])
      finished_for_good(job, outcome[6], now)
    else
      changes.status = 'failed'
      changes.error_history = append_entry(job.error_history, outcome[4])
      changes.failure_reason = outcome[5]
      changes.last_failed_at = now
      changes.next_attempt_at = outcome[6] ~= '' and outcome[6]
      add_event(id, 'failed', now, outcome[7])
      if outcome[8] ~= '' then finished_for_good(job, outcome[8], now) end
      if outcome[9] ~= '' then
        local letter = int_text(reserve_ids(K_ID, 1))
        create_job(letter, cjson.decode(outcome[9]), now)
        changes.dead_letter_job_id = letter
        changes.dead_lettered_at = now
        add_event(id, 'dead_lettered', now,
          string.sub(outcome[10], 1, -2) .. ',"dead_letter_job_id":' .. letter .. '}')
        letters = letters + 1
      end
    end
    update(id, job, changes, now)
    settled[#settled + 1] = 1
  else
    settled[#settled + 1] = 0
  end
end

flush_indexes()  -- a job failed with a retry due now may be claimed below

local limit = tonumber(ARGV[4])
local worker, token = ARGV[5], ARGV[6]
local types = nil
if ARGV[7] ~= '' then
  types = {}
  for _, job_type in ipairs(cjson.decode(ARGV[7])) do types[job_type] = true end
end
local worker_json = ARGV[8]

local claimed = {}
if limit > 0 then
  local woken = redis.call('ZRANGEBYSCORE', K_WAITS, '-inf', now, 'LIMIT', 0, PROMOTE)
  for _, id in ipairs(woken) do
    local job = load_fields(id, {'wait_until', 'run_at', 'priority'})
    if job and job.status == 'waiting' and job.wait_until then
      local wake_at = job.wait_until
      update(id, job, {status = 'pending', run_at = wake_at, updated_at = now}, now)
      add_event(id, 'resumed', now, cjson.encode({wait_until = iso_time(wake_at)}))
    else
      index_remove(K_WAITS, id)  -- a stale entry
    end
  end
  flush_indexes()

  for _, key in ipairs({K_SCHEDULED, K_RETRY}) do
    local ids = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, PROMOTE)
    for _, id in ipairs(ids) do
      local fields = redis.call('HMGET', k_job(id), 'priority', 'run_at')
      if fields[2] then
        redis.call('ZADD', K_READY, ready_score({priority = fields[1]}),
          ready_member(id, fields[2]))
      end
    end
    if #ids > 0 then call_in_slices('ZREM', key, ids) end
  end

  local taken = {}
  local offset = 0
  local window = math.max(limit, 16)
  local due_by = tonumber(now)
  while #claimed < limit do
    local members = redis.call('ZRANGE', K_READY, offset, offset + window - 1)
    if #members == 0 then break end
    offset = offset + #members
    for _, member in ipairs(members) do
      local id = string.match(member, ':0*(%d+)$')
      local wanted = true
      if tonumber(string.sub(member, 1, 17)) > due_by then
        wanted = false  -- placed by a clock ahead of this one: not due yet
      elseif types and not types[redis.call('HGET', k_job(id), 'job_type')] then
        wanted = false
      end
      local job = wanted and load_job(id)
      if wanted and (not job or (job.status ~= 'pending' and job.status ~= 'failed')) then
        taken[#taken + 1] = member  -- a stale entry: drop it
      elseif wanted then
        taken[#taken + 1] = member
        local attempt = (tonumber(job.attempts) or 0) + 1
        move_status(id, job, 'processing', now)
        write(id, job, {
          status = 'processing', locked_by = worker, locked_at = now,
          lease_token = token, attempts = tostring(attempt),
          started_at = job.started_at or now, updated_at = now,
          next_attempt_at = false, pending_reason = false,
          -- a job that spent an attempt before is being retried
          last_retried_at = attempt > 1 and now or job.last_retried_at or false,
        })
        index_add(K_PROCESSING, now, id)
        add_event(id, 'processing', now,
          string.sub(worker_json, 1, -2) .. ',"attempt":' .. attempt .. '}')
        job.id = id
        claimed[#claimed + 1] = job
        if #claimed == limit then break end
      end
    end
  end
  if #taken > 0 then call_in_slices('ZREM', K_READY, taken) end
end

finish()
if letters > 0 then redis.call('PUBLISH', K_WAKEUP, letters) end
return {marker, settled, #claimed > 0 and cjson.encode(claimed) or '[]', READY_FLOWS}
