--[[ _lib: shared by every script, never run alone: scripts.py puts before
  each script the top-level `local` definitions it uses, transitively, so a
  call builds no closure it does not need (statements of any other kind, and
  values that call something, go to every script).
  ARGV[1] is always the queue's key base (its prefix as a hash tag, see
  keys.base), so every key below is in one cluster slot; KEYS[1] is the same
  text, for routing only. Key names mirror keys.py exactly.
  Times are epoch microseconds, kept as the decimal strings Python sent:
  numbers are only compared. Ids are text too: they start from the clock
  (see reserve_ids), and Lua's tostring() prints such numbers in exponent
  form, so a counter's reply becomes text only through int_text().
  Hash fields that are NULL are absent; `false` in a change table deletes. ]]
local P = ARGV[1]
local K_ID = P .. 'id'
local K_INSTANCE = P .. 'instance'
local K_ALL = P .. 'all'
local K_IDEMPOTENCY = P .. 'idempotency'
local K_DEDUPE = P .. 'dedupe'
local K_HELD = P .. 'held'
local K_SCHEDULED = P .. 'scheduled'
local K_RETRY = P .. 'retry'
-- Due jobs as a release before per-type ready zsets kept them: claims move
-- what is left there into k_ready (settle_and_claim).
local K_LEGACY_READY = P .. 'ready'
local K_PROCESSING = P .. 'processing'
local K_FINISHED = P .. 'finished'
local K_EVENT_ID = P .. 'event_id'
local K_EVENT_TIMES = P .. 'event_times'
local K_TOKEN_TIMEOUTS = P .. 'token_timeouts'
local K_WAITS = P .. 'waits'
local K_WAKEUP = P .. 'wakeup'
local function k_job(id) return P .. 'job:' .. id end
local function k_events(id) return P .. 'events:' .. id end
local function k_status(status) return P .. 'status:' .. status end
local function k_type(job_type) return P .. 'type:' .. job_type end
local function k_tag(tag) return P .. 'tag:' .. tag end
-- The status comes first: a job type may hold ':'.
local function k_type_status(job_type, status)
  return P .. 'type_status:' .. status .. ':' .. job_type
end
local function k_token(id) return P .. 'token:' .. id end
local function k_job_tokens(id) return P .. 'job_tokens:' .. id end
local K_CRON_ID = P .. 'cron_id'
local K_CRON_NAMES = P .. 'cron_names'
local K_CRON_ALL = P .. 'cron_all'
local K_CRON_DUE = P .. 'cron_due'
local function k_cron(id) return P .. 'cron:' .. id end
local function k_cron_jobs(id) return P .. 'cron_jobs:' .. id end
local K_JOB_FINISHED = P .. 'job_finished'
local K_FLOW_SEQ = P .. 'flow_seq'
local K_FLOWS = P .. 'flows'
local K_FLOW_TIMEOUTS = P .. 'flow_timeouts'
local function k_flow(id) return P .. 'flow:' .. id end
local function k_flow_steps(id) return P .. 'flow_steps:' .. id end
local function k_flow_outcomes(id) return P .. 'flow_outcomes:' .. id end
local function k_flow_status(status) return P .. 'flow_status:' .. status end
local K_WORKERS = P .. 'workers'
local function k_worker(id) return P .. 'worker:' .. id end
local K_TYPES = P .. 'types'
local function k_type_pending(job_type) return P .. 'type_pending:' .. job_type end
local function k_ready(job_type) return P .. 'ready:' .. job_type end
local function k_ended(minute) return P .. 'ended:' .. minute end
local function k_minute_stats(minute) return P .. 'minute_stats:' .. minute end
local K_ACTIONS = P .. 'actions'
local ENDED_KEPT_SECONDS = 7200

local function int_text(n) return string.format('%.0f', n) end

-- `command key member...` in slices: unpack() has a limit on its arguments.
local function call_in_slices(command, key, members)
  for first = 1, #members, 1000 do
    redis.call(command, key, unpack(members, first, math.min(first + 999, #members)))
  end
end

--[[ The dataset's instance marker, created when missing (a new dataset, or
  one that lost everything in a restart). The backend compares it with the
  one it saw before to notice a reset. ]]
local function instance()
  local marker = redis.call('GET', K_INSTANCE)
  if marker then return marker end
  local time = redis.call('TIME')
  marker = time[1] .. '.' .. time[2]
  redis.call('SET', K_INSTANCE, marker)
  return marker
end

--[[ Take `n` ids from counter `key`; returns the first (a number).
  A missing counter starts at the server's clock in milliseconds x 1000
  rather than at 0, so a dataset that was reset never hands out an id again:
  the old counter only got there by issuing fewer than 1000 ids per
  millisecond since its own start. 1000 x epoch-ms stays below 2^53. ]]
local function reserve_ids(key, n)
  local last = redis.call('INCRBY', key, n)
  if last == n then
    local time = redis.call('TIME')
    local seed = tonumber(time[1]) * 1000000 + math.floor(tonumber(time[2]) / 1000) * 1000
    last = seed + n
    redis.call('SET', key, int_text(last))
  end
  return last - n + 1
end

local function load_hash(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local row = {}
  for i = 1, #flat, 2 do row[flat[i]] = flat[i + 1] end
  return row
end

local function load_job(id) return load_hash(k_job(id)) end

-- Just the named fields of a job (absent ones nil), with its status and
-- type (every status change counts them); nil if the job is gone.
local function load_fields(id, names)
  local values = redis.call('HMGET', k_job(id), 'status', 'job_type', unpack(names))
  if not values[1] then return nil end
  -- write() cannot tell an absent field from one not loaded: it deletes both.
  local job = {status = values[1], job_type = values[2], _partial = true}
  for i, name in ipairs(names) do job[name] = values[i + 2] or nil end
  return job
end

--[[ The fence of every write a running attempt makes: the job (its status,
  lease_token and the fields in `names`, as load_fields) if it is still
  processing under lease `token`, else nil. ]]
local function held(id, token, names)
  local job = load_fields(id, {'lease_token', unpack(names or {})})
  if job and job.status == 'processing' and job.lease_token == token then return job end
  return nil
end

--[[ Index changes are collected and sent per zset, one ZREM and one ZADD
  for a whole batch of jobs, by finish() (see below). Removals go first, so
  within one collection a job must not leave and re-enter the same zset:
  a script that changes a job twice flushes in between. ]]
local ZREMS, ZADDS = {}, {}

--[[ What job_type_stats reads besides the type+status index, so that it
  reads a few keys whatever the number of jobs: {p}ended:<minute> "type TAB
  completed|failed" -> attempts that ended so in that minute (kept two
  hours). Collected like the index changes and sent by flush_indexes(). ]]
local ENDED = {}
local ended_at, ended_key  -- the last minute's key, made once per `now`

local function count_ended(job_type, status, now)
  if now ~= ended_at then
    ended_at = now
    ended_key = k_ended(string.format('%d', math.floor(tonumber(now) / 60000000)))
  end
  local fields = ENDED[ended_key]
  if not fields then
    fields = {}
    ENDED[ended_key] = fields
  end
  local field = job_type .. '\t' .. status
  fields[field] = (fields[field] or 0) + 1
end

local function index_remove(key, member)
  local members = ZREMS[key]
  if not members then
    members = {}
    ZREMS[key] = members
  end
  members[#members + 1] = member
end

local function index_add(key, score, member)
  local pairs_ = ZADDS[key]
  if not pairs_ then
    pairs_ = {}
    ZADDS[key] = pairs_
  end
  pairs_[#pairs_ + 1] = score
  pairs_[#pairs_ + 1] = member
end

local function flush_indexes()
  for key, members in pairs(ZREMS) do call_in_slices('ZREM', key, members) end
  for key, scored in pairs(ZADDS) do
    for first = 1, #scored, 1000 do
      redis.call('ZADD', key, unpack(scored, first, math.min(first + 999, #scored)))
    end
  end
  for key, fields in pairs(ENDED) do
    for field, n in pairs(fields) do redis.call('HINCRBY', key, field, n) end
    redis.call('EXPIRE', key, ENDED_KEPT_SECONDS)
  end
  ZREMS, ZADDS, ENDED = {}, {}, {}
end

-- Ready members sort by run_at then id among equal scores (-priority).
local function ready_member(id, run_at)
  return string.format('%017d:%020d', tonumber(run_at) or 0, tonumber(id))
end

local function ready_score(job) return -(tonumber(job.priority) or 0) end

-- The types this call put in {p}types: one SADD per type, not per job.
local TYPES_ADDED = {}

-- {p}types holds every type that has jobs (a claim of every type reads the
-- ready zsets of these types): a type is noted when a job of it is created
-- or becomes due, so that a dataset written before the set existed is read
-- whole without a migration.
local function note_type(job_type)
  if not TYPES_ADDED[job_type] then
    TYPES_ADDED[job_type] = true
    redis.call('SADD', K_TYPES, job_type)
  end
end

-- Out of the claim zset its state put it in (see enqueue); out of the
-- single ready zset of earlier releases too, while it may still hold it.
local function unqueue(id, job)
  local status = job.status
  if status == 'pending' or (status == 'failed' and job.next_attempt_at) then
    local member = ready_member(id, job.run_at)
    index_remove(k_ready(job.job_type), member)
    index_remove(K_LEGACY_READY, member)
    index_remove(status == 'pending' and K_SCHEDULED or K_RETRY, id)
  elseif status == 'processing' then
    index_remove(K_PROCESSING, id)
  elseif status == 'waiting' then
    index_remove(K_WAITS, id)
  else
    index_remove(K_FINISHED, id)
  end
end

--[[ Into the claim zset its state calls for: a pending job already due goes
  straight to ready, a later one to scheduled, a failed one with a next
  attempt to retry (both promoted to ready by the claim once due), a job
  waiting until a time to waits (made pending by the claim once due); a job
  waiting on a token is in no zset: the token's resolution resumes it. ]]
local function enqueue(id, job, now)
  local status = job.status
  if status == 'pending' then
    index_add(k_type_pending(job.job_type), job.run_at, id)
    if job.pending_reason == 'dependency' then
      -- held by its dependencies: in no claim zset until released
    elseif (tonumber(job.run_at) or 0) <= tonumber(now) then
      index_add(k_ready(job.job_type), ready_score(job), ready_member(id, job.run_at))
      note_type(job.job_type)
    else
      index_add(K_SCHEDULED, job.run_at, id)
    end
  elseif status == 'processing' then
    index_add(K_PROCESSING, job.locked_at, id)
  elseif status == 'failed' and job.next_attempt_at then
    index_add(K_RETRY, job.next_attempt_at, id)
  elseif status == 'waiting' then
    if job.wait_until then index_add(K_WAITS, job.wait_until, id) end
  else
    index_add(K_FINISHED, job.updated_at, id)
  end
end

--[[ THE STATUS INDEXES: every change of a job's status goes through here
  (create_job() and delete_job() add and remove the entries). `job` (its
  status and job_type loaded) moves to status `to`: {p}status:<status> and
  {p}type_status:<status>:<job type> (both scored by id), out of its type's
  pending zset (enqueue() puts a job that becomes pending there, by run_at),
  and a completion or failure into this minute's ended counts. ]]
local function move_status(id, job, to, now)
  local from = job.status
  index_remove(k_status(from), id)
  index_add(k_status(to), id, id)
  index_remove(k_type_status(job.job_type, from), id)
  index_add(k_type_status(job.job_type, to), id, id)
  if from == 'pending' then index_remove(k_type_pending(job.job_type), id) end
  if to == 'completed' or to == 'failed' then count_ended(job.job_type, to, now) end
end

-- Write `changes` (field -> string, or false to delete) to the job's hash
-- and to the loaded `job` table: one HDEL and one HSET at most.
local function write(id, job, changes)
  local set, unset = {}, {}
  for field, value in pairs(changes) do
    if value == false then
      if job[field] ~= nil or job._partial then unset[#unset + 1] = field end
      job[field] = nil
    else
      set[#set + 1] = field
      set[#set + 1] = value
      job[field] = value
    end
  end
  if #unset > 0 then redis.call('HDEL', k_job(id), unpack(unset)) end
  if #set > 0 then redis.call('HSET', k_job(id), unpack(set)) end
end

-- Apply `changes` to a loaded job and keep every index in step. `job` must
-- hold the fields unqueue() and enqueue() read for its old and new state.
-- At most one update per job between two flushes (see index_remove).
local function update(id, job, changes, now)
  unqueue(id, job)
  if changes.status and changes.status ~= job.status then
    move_status(id, job, changes.status, now)
  end
  write(id, job, changes)
  enqueue(id, job, now)
end

--[[ Events. Each job's log is the list {p}events:{id} of "event id TAB type
  TAB created_at TAB metadata" entries (tabs inside JSON text are always
  escaped); {p}event_times scores each job by its oldest event's created_at
  for cleanup. add_event() collects; write_events() takes every id with one
  counter call and appends. ]]
local EVENTS = {}

local function add_event(job_id, event_type, now, metadata)
  EVENTS[#EVENTS + 1] = {job_id, now, event_type .. '\t' .. now .. '\t' .. metadata}
end

local function write_events()
  if #EVENTS == 0 then return end
  local event_id = reserve_ids(K_EVENT_ID, #EVENTS)
  local first = {}  -- score, job id of each log begun here: one ZADD for all
  for _, event in ipairs(EVENTS) do
    local job_id = event[1]
    local length = redis.call('RPUSH', k_events(job_id), int_text(event_id) .. '\t' .. event[3])
    if length == 1 then
      first[#first + 1] = event[2]
      first[#first + 1] = job_id
    end
    event_id = event_id + 1
  end
  for at = 1, #first, 1000 do
    redis.call('ZADD', K_EVENT_TIMES, unpack(first, at, math.min(at + 999, #first)))
  end
  EVENTS = {}
end

--[[ Flows. A flow moves running -> ready -> joined; {p}flow_status:<status>
  holds its id scored by seq (creation order) under its current status. ]]
local function move_flow(id, seq, from, to)
  redis.call('ZREM', k_flow_status(from), id)
  redis.call('ZADD', k_flow_status(to), seq, id)
end

-- Flows the barrier made ready during this script (settle_and_claim returns them).
local READY_FLOWS = {}

--[[ THE BARRIER: step `step_index` of flow `flow_id` finished for good with
  `outcome` ('success' | 'fail'). Recorded only while the flow is running and
  the step has no outcome yet (HSETNX), so duplicates and late outcomes change
  nothing; each recorded outcome counts remaining_steps down once. The flow
  becomes ready at 0, or at its first fail under the abort policy (aborted). ]]
local function record_step(flow_id, step_index, outcome, now)
  local key = k_flow(flow_id)
  local flow = redis.call('HMGET', key, 'status', 'remaining_steps', 'failure_policy', 'seq')
  if flow[1] ~= 'running' then return end
  if redis.call('HSETNX', k_flow_outcomes(flow_id), step_index, outcome) == 0 then return end
  local remaining = tonumber(flow[2]) - 1
  local changes = {'remaining_steps', string.format('%d', remaining), 'updated_at', now}
  local aborted = outcome == 'fail' and flow[3] == 'abort'
  if remaining <= 0 or aborted then
    changes[#changes + 1] = 'status'
    changes[#changes + 1] = 'ready'
    if aborted then
      changes[#changes + 1] = 'aborted'
      changes[#changes + 1] = '1'
    end
    move_flow(flow_id, flow[4], 'running', 'ready')
    redis.call('ZREM', K_FLOW_TIMEOUTS, flow_id)
    READY_FLOWS[#READY_FLOWS + 1] = flow_id
  end
  redis.call('HSET', key, unpack(changes))
end

local FINISHED = 0

--[[ Every path that makes a job final (completed, failed with no next
  attempt, cancelled) calls this in the same script: a flow step's outcome
  goes to the barrier, and finish() signals waiters on {p}job_finished.
  `job` must hold flow_id and flow_step_index (nil for other jobs). ]]
local function finished_for_good(job, outcome, now)
  FINISHED = FINISHED + 1
  if job.flow_step_index then
    record_step(job.flow_id, job.flow_step_index, outcome, now)
  end
end

-- Send what update(), move_status() and add_event() collected, and one
-- job-finished signal for the jobs made final. Every script that changes
-- jobs calls it before returning.
local function finish()
  flush_indexes()
  write_events()
  if FINISHED > 0 then
    redis.call('PUBLISH', K_JOB_FINISHED, FINISHED)
    FINISHED = 0
  end
end

--[[ Create job `id` (text) from `spec`, a new job as backend.py's _job_spec
  builds it: {"fields": [name, value, ...], "job_type", "tags", "event" (the
  added event's metadata, JSON text), "run_at" (us), "priority" (text)}. Its
  hash, its index entries, its place in the claim zsets and its added event;
  send them with finish(). Every script that inserts jobs goes through here. ]]
local function create_job(id, spec, now)
  local job_type = spec.job_type
  redis.call('HSET', k_job(id), 'id', id, unpack(spec.fields))
  index_add(K_ALL, id, id)
  index_add(k_status('pending'), id, id)
  index_add(k_type(job_type), id, id)
  index_add(k_type_status(job_type, 'pending'), id, id)
  note_type(job_type)
  -- At once: a job added in the same call may wait on these tags (hold_new).
  for _, tag in ipairs(spec.tags) do redis.call('ZADD', k_tag(tag), id, id) end
  enqueue(id, {
    status = 'pending', job_type = spec.job_type, run_at = spec.run_at,
    priority = spec.priority,
  }, now)
  add_event(id, 'added', now, spec.event)
end

-- "[a,b]" + c -> "[a,b,c]" as text, which keeps every other entry byte for byte.
local function append_entry(history, entry)
  if history == nil or history == '[]' then return '[' .. entry .. ']' end
  return string.sub(history, 1, -2) .. ',' .. entry .. ']'
end

local function delete_job(id, job)
  unqueue(id, job)
  redis.call('ZREM', k_status(job.status), id)
  redis.call('ZREM', K_ALL, id)
  redis.call('ZREM', k_type(job.job_type), id)
  redis.call('ZREM', k_type_status(job.job_type, job.status), id)
  redis.call('ZREM', k_type_pending(job.job_type), id)
  if redis.call('ZCARD', k_type(job.job_type)) == 0 then
    redis.call('SREM', K_TYPES, job.job_type)  -- its last job
    TYPES_ADDED[job.job_type] = nil
  end
  for _, tag in ipairs(cjson.decode(job.tags)) do
    redis.call('ZREM', k_tag(tag), id)
  end
  if job.idempotency_key
    and redis.call('HGET', K_IDEMPOTENCY, job.idempotency_key) == job.id then
    redis.call('HDEL', K_IDEMPOTENCY, job.idempotency_key)
  end
  if job.dedupe_key then
    local record = redis.call('HGET', K_DEDUPE, job.dedupe_key)
    if record and string.match(record, '^(%d+)|') == id then
      redis.call('HDEL', K_DEDUPE, job.dedupe_key)
    end
  end
  redis.call('ZREM', K_EVENT_TIMES, id)
  redis.call('DEL', k_events(id), k_job(id), k_job_tokens(id))
end

local function has_tags(job, filter)
  local have, count = {}, 0
  for _, tag in ipairs(cjson.decode(job.tags)) do
    have[tag] = true
    count = count + 1
  end
  local mode, values = filter.mode, filter.values
  if mode == 'any' then
    for _, tag in ipairs(values) do
      if have[tag] then return true end
    end
    return false
  end
  for _, tag in ipairs(values) do
    if (mode == 'none') == (have[tag] == true) then return false end
  end
  return mode ~= 'exact' or count == #values
end

local function in_range(value, range)
  local v = tonumber(value)
  return (range.gt == nil or v > tonumber(range.gt))
    and (range.gte == nil or v >= tonumber(range.gte))
    and (range.lt == nil or v < tonumber(range.lt))
    and (range.lte == nil or v <= tonumber(range.lte))
    and (range.eq == nil or v == tonumber(range.eq))
end

--[[ A filter is the JSON object built by backend.py: optional job_type,
  priority, status, statuses (a list: any of them), run_at {gt,gte,lt,lte,eq}
  and tags {mode, values}. Absent fields do not filter. ]]
local function matches(job, filter)
  if filter.status and job.status ~= filter.status then return false end
  if filter.statuses then
    local found = false
    for _, status in ipairs(filter.statuses) do
      if job.status == status then found = true end
    end
    if not found then return false end
  end
  if filter.job_type and job.job_type ~= filter.job_type then return false end
  if filter.priority and tonumber(job.priority) ~= filter.priority then return false end
  if filter.run_at and not in_range(job.run_at, filter.run_at) then return false end
  if filter.tags and not has_tags(job, filter.tags) then return false end
  return true
end

--[[ FILTERED READS AND BULK CHANGES never walk every job in one script.
  Every job is in {p}all, {p}status:<status>, {p}type:<job type>,
  {p}type_status:<status>:<job type> and {p}tag:<tag> per tag, each scored by
  id. A filter is served from its source: the union of index zsets with the
  fewest members that holds every job it can match. When the source holds
  exactly the matching jobs (`exact`: no condition is left to check), pages
  and counts come from the zsets alone. Otherwise the caller walks the
  source in id order, at most a budget of candidates per script call,
  reading only the fields the conditions need; backend.py makes the calls. ]]

-- A source: {keys = {zset, ...}, exact = bool}.
local function filter_source(filter)
  local statuses = filter.statuses or (filter.status and {filter.status})
  local tags = filter.tags
  local unindexed = filter.priority ~= nil or filter.run_at ~= nil
  local keys = {}
  if statuses then
    for i, status in ipairs(statuses) do
      keys[i] = filter.job_type and k_type_status(filter.job_type, status) or k_status(status)
    end
  elseif filter.job_type then
    keys = {k_type(filter.job_type)}
  else
    keys = {K_ALL}
  end
  local options = {{keys = keys, exact = not unindexed and not tags}}
  -- A tag source is exact only when the tags are the filter's one condition.
  local tags_alone = not unindexed and not statuses and not filter.job_type
  if tags and tags.mode == 'any' then
    local tag_keys = {}
    for i, tag in ipairs(tags.values) do tag_keys[i] = k_tag(tag) end
    options[#options + 1] = {keys = tag_keys, exact = tags_alone}
  elseif tags and (tags.mode == 'all' or tags.mode == 'exact') then
    for _, tag in ipairs(tags.values) do
      options[#options + 1] = {
        keys = {k_tag(tag)},
        exact = tags_alone and tags.mode == 'all' and #tags.values == 1,
      }
    end
  end
  local best, best_size
  for _, option in ipairs(options) do
    local size = 0
    for _, key in ipairs(option.keys) do size = size + redis.call('ZCARD', key) end
    if best == nil or size < best_size then best, best_size = option, size end
  end
  return best
end

--[[ Up to `budget` ids of the union of zsets `keys` past `cursor` (an id,
  exclusive; '' to start), in descending id order, or ascending when
  `ascending`. Returns them and the cursor to go on from (nil: the union is
  exhausted). Each zset gives its first budget / #keys ids, so the merged
  ids up to the cursor are all of the union's. ]]
local function walk_ids(keys, cursor, budget, ascending)
  local share = math.max(1, math.floor(budget / math.max(#keys, 1)))
  local ids, seen = {}, {}
  for _, key in ipairs(keys) do
    local found
    if ascending then
      found = redis.call('ZRANGEBYSCORE', key, cursor == '' and '-inf' or '(' .. cursor,
        '+inf', 'LIMIT', 0, share)
    else
      found = redis.call('ZREVRANGEBYSCORE', key, cursor == '' and '+inf' or '(' .. cursor,
        '-inf', 'LIMIT', 0, share)
    end
    for _, id in ipairs(found) do
      if not seen[id] then
        seen[id] = true
        ids[#ids + 1] = id
      end
    end
  end
  if #keys > 1 then
    table.sort(ids, function(a, b)
      if ascending then return tonumber(a) < tonumber(b) end
      return tonumber(a) > tonumber(b)
    end)
  end
  if #ids < share then return ids, nil end
  for i = #ids, share + 1, -1 do ids[i] = nil end
  return ids, ids[#ids]
end

-- The fields besides status that matches() reads for `filter`.
local function filtered_fields(filter)
  local names = {}
  for _, name in ipairs({'job_type', 'priority', 'run_at', 'tags'}) do
    if filter[name] ~= nil then names[#names + 1] = name end
  end
  return names
end

--[[ One call's share of a walk over the source of `filter`: visit(id, job)
  for each matching job among up to `budget` candidates past `cursor`, until
  visit returns false. `job` holds status and the filtered fields (nil when
  the source is exact and `need_status` is false). Returns the cursor to go
  on from, or false when the walk is over. ]]
local function walk_matches(filter, cursor, budget, ascending, need_status, visit)
  local source = filter_source(filter)
  local ids, next_cursor = walk_ids(source.keys, cursor, budget, ascending)
  local names = source.exact and {} or filtered_fields(filter)
  for _, id in ipairs(ids) do
    local job, found = nil, source.exact
    if need_status or not source.exact then
      job = load_fields(id, names)
      found = job ~= nil and (source.exact or matches(job, filter))
    end
    if found and visit(id, job) == false then return false end
  end
  return next_cursor or false
end

-- Job ids (text) in ascending numeric order, in place: the order in which
-- bulk changes are written and returned, as on the other stores.
local function sort_ids(ids)
  table.sort(ids, function(a, b) return tonumber(a) < tonumber(b) end)
  return ids
end

--[[ Durable waits. A token is {p}token:{id} (status waiting, then completed
  or timed_out, never both: every change checks it is still waiting, and a
  script runs alone); {p}job_tokens:{job id} is the set of a job's tokens. ]]

-- Epoch microseconds as Python's datetime.isoformat() writes them in UTC.
local function iso_time(us)
  local n = tonumber(us)
  local secs = math.floor(n / 1000000)
  local micros = n - secs * 1000000
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  -- civil_from_days (H. Hinnant): days since 1970-01-01 -> y, m, d
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  local text = string.format('%04d-%02d-%02dT%02d:%02d:%02d', y, m, d,
    math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60)
  if micros > 0 then text = text .. string.format('.%06d', micros) end
  return text .. '+00:00'
end

-- The job waiting on a token just resolved becomes due now ('resumed', with
-- `metadata`, JSON text). Returns true when a job was resumed.
local function resume_waiter(token_id, job_id, now, metadata)
  if not job_id then return false end
  local job = load_fields(job_id, {'wait_token_id', 'run_at', 'priority'})
  if not job or job.status ~= 'waiting' or job.wait_token_id ~= token_id then
    return false
  end
  update(job_id, job, {status = 'pending', run_at = now, updated_at = now}, now)
  add_event(job_id, 'resumed', now, metadata)
  return true
end

--[[ A transition decided in Python, as backend.py's _transition builds
  it: {"from": [status, ...], "metadata": the event's (JSON text),
  "outcome": what a flow step reports ('' for none)}. ]]
local function starts_from(transition, status)
  for _, from in ipairs(transition.from) do
    if from == status then return true end
  end
  return false
end

--[[ A loaded job that `transition` (the cancel) starts from becomes
  cancelled (its 'cancelled' event, and a flow step's outcome); its tokens
  still waiting become timed_out. Send with finish(). ]]
local function cancel(id, job, now, transition)
  update(id, job, {
    status = 'cancelled', locked_by = false, locked_at = false,
    last_cancelled_at = now, updated_at = now,
  }, now)
  add_event(id, 'cancelled', now, transition.metadata)
  finished_for_good(job, transition.outcome, now)
  for _, token_id in ipairs(redis.call('SMEMBERS', k_job_tokens(id))) do
    if redis.call('HGET', k_token(token_id), 'status') == 'waiting' then
      redis.call('HSET', k_token(token_id), 'status', 'timed_out', 'completed_at', now)
      redis.call('ZREM', K_TOKEN_TIMEOUTS, token_id)
    end
  end
end

--[[ DEPENDENCIES (the rule is _transitions' dependency_hold, depends_on and
  dooms). A job held by depends_on is pending with pending_reason
  'dependency', in {p}held (by id) and in no claim zset. Its hash keeps
  depends_on_job_ids and depends_on_tags (JSON lists); a job it waits on
  has has_dependents '1', so that only such a job's change looks at the
  held jobs. `events` is the JSON object backend.py passes: the metadata of
  'held', 'released' and a dependent's 'cancelled' (two texts, written
  with the prerequisite's id between them). ]]

local function json_list(text) return text and cjson.decode(text) or {} end

local function covers(tags, drain)
  if #drain == 0 then return false end
  local have = {}
  for _, tag in ipairs(tags) do have[tag] = true end
  for _, tag in ipairs(drain) do
    if not have[tag] then return false end
  end
  return true
end

local function flag_dependents(ids)
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', k_job(id)) == 1 then
      redis.call('HSET', k_job(id), 'has_dependents', '1')
    end
  end
end

-- Whether held job `id` (its prerequisites' ids and drain tags) stays held;
-- the jobs that keep it held are flagged as having dependents.
local function still_held(id, job_ids, drain)
  local unfinished = false
  for _, prerequisite in ipairs(job_ids) do
    if redis.call('HGET', k_job(prerequisite), 'status') ~= 'completed' then
      unfinished = true
    end
  end
  if #drain == 0 then return unfinished end
  local blockers = {}
  for _, other in ipairs(redis.call('ZRANGE', k_tag(drain[1]), 0, -1)) do
    if other ~= id then
      local fields = redis.call('HMGET', k_job(other), 'status', 'tags')
      local status = fields[1]
      if (status == 'pending' or status == 'processing' or status == 'waiting')
        and covers(json_list(fields[2]), drain) then
        blockers[#blockers + 1] = other
      end
    end
  end
  flag_dependents(blockers)
  return unfinished or #blockers > 0
end

local HELD_FIELDS = {
  'depends_on_job_ids', 'depends_on_tags', 'tags', 'run_at', 'priority', 'pending_reason',
}

-- A new job `id` stores its prerequisites and drain, and is held while
-- they are unfinished ('held' event).
local function hold_new(id, job_ids, drain, now, event)
  local changes = {}
  if #job_ids > 0 then changes[#changes + 1] = 'depends_on_job_ids'; changes[#changes + 1] = cjson.encode(job_ids) end
  if #drain > 0 then changes[#changes + 1] = 'depends_on_tags'; changes[#changes + 1] = cjson.encode(drain) end
  if #changes > 0 then redis.call('HSET', k_job(id), unpack(changes)) end
  flag_dependents(job_ids)
  if not still_held(id, job_ids, drain) then return end
  flush_indexes()  -- the job was enqueued by create_job in this call
  local job = load_fields(id, HELD_FIELDS)
  update(id, job, {pending_reason = 'dependency', updated_at = now}, now)
  redis.call('ZADD', K_HELD, id, id)
  add_event(id, 'held', now, event)
end

--[[ Jobs that just changed (completed, failed, cancelled, reclaimed): for
  each with dependents, every held job that depends on it is cancelled
  when it is doomed (failed for good, cancelled), transitively, else
  released once still_held() lets it go. ]]
local function settle_dependencies(ids, now, events)
  local queue = {}
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', k_job(id), 'has_dependents', 'status', 'next_attempt_at', 'tags')
    if f[1] == '1' then
      local doomed = f[2] == 'cancelled' or (f[2] == 'failed' and not f[3])
      queue[#queue + 1] = {id = id, tags = json_list(f[4]), doomed = doomed}
    end
  end
  if #queue == 0 then return end
  events = cjson.decode(events)
  local head = 1
  while head <= #queue do
    local done = queue[head]
    head = head + 1
    for _, id in ipairs(redis.call('ZRANGE', K_HELD, 0, -1)) do
      local job = load_fields(id, HELD_FIELDS)
      if not job or job.status ~= 'pending' or job.pending_reason ~= 'dependency' then
        redis.call('ZREM', K_HELD, id)
      else
        local job_ids, drain = json_list(job.depends_on_job_ids), json_list(job.depends_on_tags)
        local waits = false
        if id ~= done.id then
          for _, prerequisite in ipairs(job_ids) do
            if prerequisite == done.id or tostring(prerequisite) == done.id then waits = true end
          end
          waits = waits or covers(done.tags, drain)
        end
        if waits and done.doomed then
          flush_indexes()
          redis.call('ZREM', K_HELD, id)
          update(id, job, {
            status = 'cancelled', pending_reason = false, last_cancelled_at = now,
            updated_at = now,
          }, now)
          add_event(id, 'cancelled', now, events.cancelled[1] .. done.id .. events.cancelled[2])
          finished_for_good(job, 'fail', now)
          queue[#queue + 1] = {id = id, tags = json_list(job.tags), doomed = true}
        elseif waits and not still_held(id, job_ids, drain) then
          flush_indexes()
          redis.call('ZREM', K_HELD, id)
          update(id, job, {pending_reason = false, updated_at = now}, now)
          add_event(id, 'released', now, events.released)
        end
      end
    end
  end
end
