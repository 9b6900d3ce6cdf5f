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
         event's metadata (a list of two texts the letter's id goes
         between, _transitions.metadata_template)
      s: step_data (JSON text), wait_until (us, or ''), token id (or ''),
         metadata of the 'waiting' event (JSON text), then of the 'resumed'
         event for a token that completed, and for one that timed out. The
         job waits with its attempt given back; if its token is already
         resolved it is due at once instead (pending, 'resumed').
  Every metadata and entry is built in Python (_transitions.py).
  ARGV[4] claim limit (0: no claim)   ARGV[5] worker id   ARGV[6] lease token
  ARGV[7] job types (JSON list, or '' for every type)
  ARGV[8] the claim's events (JSON; see claim_events_arg in exchange.py):
    the two texts of each 'processing' event the attempt's number goes
    between, and of a 'resumed' one of a job whose wait_until came, the
    JSON of that time's ISO text
  ARGV[9] the claim's cap per group key over every type ('' : none)
  A gated claim whose every type can take nothing now reads no candidate.
  ARGV[10] the events of held jobs (JSON; see HELD_JOB_EVENTS in
    exchange.py): the dependency events (see settle_dependencies in _lib),
    for a job written here that held jobs wait on, and by hold reason the
    'held' and 'unheld' metadata of a job a limit or a pause holds.
  An outcome is written only while its job is processing under its token.
  An outcome with a barrier outcome finishes the job for good: a flow
  step's outcome goes to the barrier (record_step in _lib).
  Waiting jobs whose wait_until has come (in waits) become pending first,
  with a 'resumed' event, at most PROMOTE per call.
  Due jobs wait in their type's ready zset (k_ready: score -priority, member
  "<run_at>:<id>" zero-padded, so ZRANGE gives priority DESC, run_at, id); a
  claim reads its types' zsets together in that order, so it never reads a
  job of another type. Jobs that became due in scheduled or retry (and
  any left in the single ready zset of earlier releases) are promoted first,
  at most PROMOTE per zset and call,
  so a large backlog falling due never blocks Redis in one script; until it
  is all promoted, claims see it in run_at order a slice at a time.
  Stored limits and pauses of the claim's types (and ARGV[9]) decide which
  due jobs it takes: the GATE below is dataqueue/limits.py's Gate and walk,
  line for line (tests/conformance/test_limits.py holds them to it); a
  claim no limit applies to reads only the limits hash. A held job that is
  claimed gets a 'released' event before its 'processing' one.
  Returns {instance marker, {1|0 per outcome}, claimed, {id of each flow
  the outcomes made ready, ...}, wake delay, waits for slot}: the seconds
  until a job held by a rate may start ('' : none) and 1 when a job is held
  until a running one ends (else 0); claimed is the JSON
  text of a list of the claimed jobs' hashes as objects (one string parses far
  faster in the client than an array per field), each job's id taken from
  its ready member, so a job whose hash is damaged still comes back with it. ]]
local PROMOTE = 1000
local now = ARGV[2]
local decoded_hold_events
-- The held jobs' events (ARGV[10]), decoded once and only when a hold is
-- made or ends.
local function hold_events()
  decoded_hold_events = decoded_hold_events or cjson.decode(ARGV[10])
  return decoded_hold_events
end
local marker = instance()

local settled = {}
local letters = 0
local with_dependents = {}
for _, outcome in ipairs(cjson.decode(ARGV[3])) do
  local kind, id, token = outcome[1], outcome[2], outcome[3]
  local job = held(id, token, {
    'error_history', 'attempts', 'priority', 'flow_id', 'flow_step_index',
    'has_dependents',
  })
  if job then
    if job.has_dependents then with_dependents[#with_dependents + 1] = id end
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
          outcome[10][1] .. letter .. outcome[10][2])
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
if #with_dependents > 0 then
  settle_dependencies(with_dependents, now, ARGV[10])
  flush_indexes()
end

local limit = tonumber(ARGV[4])
local worker, token = ARGV[5], ARGV[6]
local types, types_list = nil, nil
if ARGV[7] ~= '' then
  types, types_list = {}, cjson.decode(ARGV[7])
  for _, job_type in ipairs(types_list) do types[job_type] = true end
end
local claim_events = limit > 0 and cjson.decode(ARGV[8])

--[[ GATE: dataqueue/limits.py's Gate (one claim's view of the limits) and
  the steps of its walk. Keys of the tables: "type\ngroup" (group '' for a
  type's own bucket); names hold no control character. ]]
local GATE = {}
local SEP = '\n'
local function k_buckets(job_type) return P .. 'limit_buckets:' .. job_type end

-- The claim's gate, or nil when nothing limits it (the plain claim).
function GATE.open(claim_types, cap_text)
  local cap = cap_text ~= '' and tonumber(cap_text) or nil
  local raw = redis.call('HGETALL', P .. 'limits')
  local limits, any, all_paused = {}, false, false
  for i = 1, #raw, 2 do
    local job_type, row = raw[i], cjson.decode(raw[i + 1])
    if job_type == '*' then
      if row.paused then all_paused, any = true, true end
    elseif claim_types == nil or claim_types[job_type] then
      limits[job_type], any = row, true
    end
  end
  if not any and cap == nil then return nil end
  local g = {
    limits = limits, all_paused = all_paused, cap = cap, running = {},
    group_running = {}, any_running = {}, stored = {}, tokens = {}, spent = {},
    wake_delay = nil, waits_for_slot = false,
  }
  for job_type, row in pairs(limits) do
    local key = k_type_status(job_type, 'processing')
    g.running[job_type] = redis.call('ZCARD', key)
    if row.group_concurrency or row.group_rate then
      for _, id in ipairs(redis.call('ZRANGE', key, 0, -1)) do
        local group = redis.call('HGET', k_job(id), 'group_id')
        if group then
          local pair = job_type .. SEP .. group
          g.group_running[pair] = (g.group_running[pair] or 0) + 1
        end
      end
    end
    if row.rate or row.group_rate then
      local fields = redis.call('HGETALL', k_buckets(job_type))
      for i = 1, #fields, 2 do
        local tokens, at = string.match(fields[i + 1], '^([^:]+):(%d+)$')
        g.stored[job_type .. SEP .. fields[i]] = {tonumber(tokens), tonumber(at)}
      end
    end
  end
  if cap then
    for _, id in ipairs(redis.call('ZRANGE', K_PROCESSING, 0, -1)) do
      local group = redis.call('HGET', k_job(id), 'group_id')
      if group then g.any_running[group] = (g.any_running[group] or 0) + 1 end
    end
  end
  return g
end

-- limits.tokens_at: a stored bucket refilled until now (a missing one is full).
function GATE.bucket(g, job_type, group, rate)
  local key = job_type .. SEP .. group
  local tokens = g.tokens[key]
  if tokens == nil then
    local count, per = rate[1], rate[2]
    local stored = g.stored[key]
    if stored == nil then
      tokens = count
    else
      local elapsed = math.max((tonumber(now) - stored[2]) / 1e6, 0)
      tokens = math.min(count, stored[1] + elapsed * (count / per))
    end
    g.tokens[key] = tokens
  end
  return tokens
end

function GATE.reason(g, job_type, group)
  local row = g.limits[job_type]
  if g.all_paused or (row and row.paused) then return 'paused' end
  if row then
    if row.concurrency and (g.running[job_type] or 0) >= row.concurrency then
      return 'concurrency_limit'
    end
    if row.rate and GATE.bucket(g, job_type, '', row.rate) < 1 then return 'rate_limit' end
  end
  if not group then return nil end
  if row and row.group_concurrency
      and (g.group_running[job_type .. SEP .. group] or 0) >= row.group_concurrency then
    return 'group_concurrency_limit'
  end
  if g.cap and (g.any_running[group] or 0) >= g.cap then
    return 'group_concurrency_limit'
  end
  if row and row.group_rate and GATE.bucket(g, job_type, group, row.group_rate) < 1 then
    return 'group_rate_limit'
  end
  return nil
end

function GATE.note(g, job_type, group, reason)
  if reason == 'concurrency_limit' or reason == 'group_concurrency_limit' then
    g.waits_for_slot = true
    return
  end
  if reason == 'paused' then return end
  local row = g.limits[job_type]
  local rate, key_group = row.rate, ''
  if reason == 'group_rate_limit' then rate, key_group = row.group_rate, group end
  local tokens = GATE.bucket(g, job_type, key_group, rate)
  local delay = math.max(1 - tokens, 0) / (rate[1] / rate[2])
  if g.wake_delay == nil or delay < g.wake_delay then g.wake_delay = delay end
end

function GATE.spend(g, job_type, group, rate)
  local key = job_type .. SEP .. group
  g.tokens[key] = GATE.bucket(g, job_type, group, rate) - 1
  g.spent[key] = true
end

function GATE.offer(g, job_type, group)
  local reason = GATE.reason(g, job_type, group)
  if reason then
    GATE.note(g, job_type, group, reason)
    return reason
  end
  local row = g.limits[job_type]
  g.running[job_type] = (g.running[job_type] or 0) + 1
  if group then
    local pair = job_type .. SEP .. group
    g.group_running[pair] = (g.group_running[pair] or 0) + 1
    g.any_running[group] = (g.any_running[group] or 0) + 1
  end
  if row and row.rate then GATE.spend(g, job_type, '', row.rate) end
  if row and row.group_rate and group then GATE.spend(g, job_type, group, row.group_rate) end
  return nil
end

function GATE.exclusions(g)
  local ex = {types = {}, groups = {}, any = {}}
  for job_type in pairs(g.limits) do
    local reason = GATE.reason(g, job_type, nil)
    if reason then
      ex.types[job_type] = reason
      GATE.note(g, job_type, nil, reason)
    end
  end
  for pair, running in pairs(g.group_running) do
    local job_type = string.match(pair, '^([^\n]*)\n')
    local row = g.limits[job_type]
    if row and row.group_concurrency and running >= row.group_concurrency
        and not ex.types[job_type] then
      ex.groups[pair] = true
      g.waits_for_slot = true
    end
  end
  local keys = {}
  for key in pairs(g.stored) do keys[key] = true end
  for key in pairs(g.tokens) do keys[key] = true end
  for key in pairs(keys) do
    local job_type, group = string.match(key, '^([^\n]*)\n(.*)$')
    local row = g.limits[job_type]
    if group ~= '' and row and row.group_rate and not ex.types[job_type]
        and not ex.groups[key] and GATE.bucket(g, job_type, group, row.group_rate) < 1 then
      ex.groups[key] = true
      GATE.note(g, job_type, group, 'group_rate_limit')
    end
  end
  if g.cap then
    for group, running in pairs(g.any_running) do
      if running >= g.cap then
        ex.any[group] = true
        g.waits_for_slot = true
      end
    end
  end
  return ex
end

function GATE.excludes_any(ex)
  return next(ex.types) ~= nil or next(ex.groups) ~= nil or next(ex.any) ~= nil
end

function GATE.excludes(ex, job_type, group)
  if ex.types[job_type] then return true end
  if not group then return false end
  return ex.groups[job_type .. SEP .. group] or ex.any[group] or false
end

-- Mark a pending job held (once per reason): pending_reason and a 'held' event.
-- A job its dependencies hold keeps that reason.
function GATE.hold(id, job, reason)
  if job and job.status == 'pending' and job.pending_reason ~= reason
    and job.pending_reason ~= 'dependency' then
    write(id, job, {pending_reason = reason, updated_at = now})
    add_event(id, 'held', now, hold_events().held[reason])
  end
end

-- The first n due pending jobs of a paused type, by id (its pending index,
-- read from the front; at most 1000 entries looked at).
function GATE.front_of_line(job_type, n)
  local ids = redis.call('ZRANGE', k_type_status(job_type, 'pending'), 0, 999)
  local front = {}
  for _, id in ipairs(ids) do
    if #front >= n then break end
    local run_at = tonumber(redis.call('HGET', k_job(id), 'run_at'))
    if run_at and run_at <= tonumber(now) then front[#front + 1] = id end
  end
  return front
end

-- One due job met by the walk (not excluded): 'take', 'held', or 'paused'.
function GATE.walk_step(g, id, job)
  if g.all_paused then
    GATE.hold(id, job, 'paused')
    return 'paused'
  end
  local group = job.group_id
  if not GATE.governs(g, job.job_type, group) then return 'take' end
  local reason = GATE.offer(g, job.job_type, group)
  if reason == nil then return 'take' end
  GATE.hold(id, job, reason)
  return 'held'
end

function GATE.governs(g, job_type, group)
  if g.all_paused or g.limits[job_type] then return true end
  return group ~= nil and g.cap ~= nil
end

function GATE.store_spent(g)
  for key in pairs(g.spent) do
    local job_type, group = string.match(key, '^([^\n]*)\n(.*)$')
    redis.call('HSET', k_buckets(job_type), group,
      string.format('%.17g', g.tokens[key]) .. ':' .. now)
  end
end

local claimed = {}
local wake_delay, waits_for_slot = '', 0
if limit > 0 then
  local woken = redis.call('ZRANGEBYSCORE', K_WAITS, '-inf', now, 'LIMIT', 0, PROMOTE)
  for _, id in ipairs(woken) do
    local job = load_fields(id, {'wait_until', 'run_at', 'priority'})
    if job and job.status == 'waiting' and job.wait_until then
      local wake_at = job.wait_until
      update(id, job, {status = 'pending', run_at = wake_at, updated_at = now}, now)
      local resumed = claim_events.resumed
      add_event(id, 'resumed', now,
        resumed[1] .. cjson.encode(iso_time(wake_at)) .. resumed[2])
    else
      index_remove(K_WAITS, id)  -- a stale entry
    end
  end
  flush_indexes()

  for _, key in ipairs({K_SCHEDULED, K_RETRY}) do
    local ids = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, PROMOTE)
    for _, id in ipairs(ids) do
      local fields = redis.call('HMGET', k_job(id), 'priority', 'run_at', 'job_type')
      if fields[2] then
        redis.call('ZADD', k_ready(fields[3]), ready_score({priority = fields[1]}),
          ready_member(id, fields[2]))
        note_type(fields[3])
      end
    end
    if #ids > 0 then call_in_slices('ZREM', key, ids) end
  end
  local legacy = redis.call('ZRANGE', K_LEGACY_READY, 0, PROMOTE - 1, 'WITHSCORES')
  if #legacy > 0 then
    local moved = {}
    for i = 1, #legacy, 2 do
      local member = legacy[i]
      local job_type = redis.call('HGET', k_job(string.match(member, ':0*(%d+)$')), 'job_type')
      if job_type then
        redis.call('ZADD', k_ready(job_type), legacy[i + 1], member)
        note_type(job_type)
      end
      moved[#moved + 1] = member
    end
    call_in_slices('ZREM', K_LEGACY_READY, moved)
  end

  local gate = GATE.open(types, ARGV[9])
  local window = math.max(limit, 16)
  local due_by = tonumber(now)
  local looked = 0  -- candidates seen while every type is paused
  local exclusions = gate and not gate.all_paused and GATE.exclusions(gate)
  if exclusions then
    local blocked = {}
    for job_type in pairs(exclusions.types) do blocked[#blocked + 1] = job_type end
    table.sort(blocked)
    for _, job_type in ipairs(blocked) do
      if exclusions.types[job_type] == 'paused' then
        for _, id in ipairs(GATE.front_of_line(job_type, limit)) do
          GATE.hold(id, load_job(id), 'paused')
        end
      end
    end
  end
  -- Gate.takes_none_of: once every type of the claim is excluded, the
  -- walk stops (the rest of the line holds nothing it could take).
  local function takes_some()
    if not (types and exclusions) then return true end
    for job_type in pairs(types) do
      if not exclusions.types[job_type] then return true end
    end
    return false
  end
  -- The walk: the ready zsets of the claim's types (every type's for a claim
  -- of every type) read together in ready order, a window of each at a time.
  -- A type the gate excludes is not read.
  local lines = {}
  for _, job_type in ipairs(types_list or redis.call('SMEMBERS', K_TYPES)) do
    lines[#lines + 1] = {
      job_type = job_type, key = k_ready(job_type), offset = 0, at = 1,
      members = {}, scores = {}, taken = {},
    }
  end
  local function head(line)
    if line.at > #line.members and not line.done then
      local last = line.offset + window - 1
      if #lines == 1 then  -- nothing to merge: no scores needed
        line.members = redis.call('ZRANGE', line.key, line.offset, last)
      else
        local got = redis.call('ZRANGE', line.key, line.offset, last, 'WITHSCORES')
        line.members, line.scores = {}, {}
        for i = 1, #got, 2 do
          line.members[#line.members + 1] = got[i]
          line.scores[#line.scores + 1] = tonumber(got[i + 1])
        end
      end
      line.at = 1
      line.offset = line.offset + #line.members
      line.done = #line.members < window
    end
    return line.members[line.at], line.scores[line.at]
  end
  -- The line whose head comes first in ready order (score, then member, as
  -- a zset sorts them), with that head; nil when every line is read out.
  local function next_candidate()
    if #lines == 1 then
      local line = lines[1]
      if exclusions and exclusions.types[line.job_type] then return nil end
      local member = head(line)
      if member then line.at = line.at + 1 end
      return member and line, member
    end
    local best, best_member, best_score
    for _, line in ipairs(lines) do
      if not (exclusions and exclusions.types[line.job_type]) then
        local member, score = head(line)
        if member and (best == nil or score < best_score
            or (score == best_score and member < best_member)) then
          best, best_member, best_score = line, member, score
        end
      end
    end
    if best then best.at = best.at + 1 end
    return best, best_member
  end
  local open_types = takes_some()
  while open_types and #claimed < limit and looked < limit do
    local line, member = next_candidate()
    if not line then break end
    local id = string.match(member, ':0*(%d+)$')
    local wanted = true
    local kind = nil
    if tonumber(string.sub(member, 1, 17)) > due_by then
      wanted = false  -- placed by a clock ahead of this one: not due yet
    elseif exclusions and (next(exclusions.groups) or next(exclusions.any)) then
      local group = redis.call('HGET', k_job(id), 'group_id')
      if group and GATE.excludes(exclusions, line.job_type, group) then
        wanted = false  -- its group can take nothing now: passed over
      end
    end
    local job = wanted and load_job(id)
    if wanted and (not job or (job.status ~= 'pending' and job.status ~= 'failed')
      or job.pending_reason == 'dependency') then
      line.taken[#line.taken + 1] = member  -- a stale entry (or a held job's): drop it
    elseif wanted and gate then
      kind = GATE.walk_step(gate, id, job)
      if kind == 'paused' then looked = looked + 1 end
      if kind == 'held' then
        exclusions = GATE.exclusions(gate)
        open_types = takes_some()
      end
    end
    if wanted and job and job.pending_reason ~= 'dependency' and (kind == nil or kind == 'take')
        and (job.status == 'pending' or job.status == 'failed') then
      line.taken[#line.taken + 1] = member
      local attempt = (tonumber(job.attempts) or 0) + 1
      if job.pending_reason then
        add_event(id, 'released', now, hold_events().unheld[job.pending_reason])
      end
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
        claim_events.processing[1] .. attempt .. claim_events.processing[2])
      job.id = id
      claimed[#claimed + 1] = job
    end
  end
  for _, line in ipairs(lines) do
    if #line.taken > 0 then call_in_slices('ZREM', line.key, line.taken) end
  end
  if gate then
    GATE.store_spent(gate)
    wake_delay = gate.wake_delay and string.format('%.17g', gate.wake_delay) or ''
    waits_for_slot = gate.waits_for_slot and 1 or 0
  end
end

finish()
if letters > 0 then redis.call('PUBLISH', K_WAKEUP, letters) end
return {marker, settled, #claimed > 0 and cjson.encode(claimed) or '[]', READY_FLOWS,
  wake_delay, waits_for_slot}
