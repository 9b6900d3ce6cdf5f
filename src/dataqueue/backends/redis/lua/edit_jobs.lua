--[[ edit_jobs: change fields of one pending job, or of the pending jobs
  matching a filter among one budget of candidates.
  ARGV[1] prefix   ARGV[2] now (us)
  ARGV[3] job id, or "" to use the filter   ARGV[4] filter JSON
  ARGV[5] changes JSON: {"set": [name, value, ...] (strings), "unset": [name, ...],
          "tags": [...] when the tags change}
  ARGV[6] metadata of the 'edited' event (JSON text)
  ARGV[7] cursor ('' at first)   ARGV[8] budget (candidates per call)
  A filter is walked in ascending id order, one budget per call (see
  walk_matches in _lib); each job is edited in the call that finds it.
  Returns {how many jobs were edited, the cursor to call again with (false:
  done)}. ]]
local now, target = ARGV[2], ARGV[3]
local changes = cjson.decode(ARGV[5])
local ids, cursor = {}, false
if target ~= '' then
  local status = redis.call('HGET', k_job(target), 'status')
  if status == 'pending' then ids = {target} end
else
  local filter = cjson.decode(ARGV[4])
  filter.statuses = {'pending'}
  cursor = walk_matches(filter, ARGV[7], tonumber(ARGV[8]), true, false,
    function(id) ids[#ids + 1] = id end)
end
for _, id in ipairs(ids) do
  local job = load_job(id)
  local change = {updated_at = now}
  for i = 1, #changes.set, 2 do change[changes.set[i]] = changes.set[i + 1] end
  for _, field in ipairs(changes.unset) do change[field] = false end
  if changes.tags then
    for _, tag in ipairs(cjson.decode(job.tags)) do
      redis.call('ZREM', k_tag(tag), id)
    end
    for _, tag in ipairs(changes.tags) do redis.call('ZADD', k_tag(tag), id, id) end
  end
  update(id, job, change, now)
  add_event(id, 'edited', now, ARGV[6])
end
finish()
return {#ids, cursor}
