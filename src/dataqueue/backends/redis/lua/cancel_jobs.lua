--[[ cancel_jobs: cancel the pending or waiting jobs matching a filter among
  one budget of candidates (their waiting tokens become timed_out).
  ARGV[1] prefix   ARGV[2] now (us)   ARGV[3] filter JSON (see matches() in _lib)
  ARGV[4] cursor ('' at first)   ARGV[5] budget (candidates per call)
  ARGV[6] the cancel transition (JSON, see starts_from in _lib)
  ARGV[7] the dependency events (see settle_dependencies in _lib)
  The filter is walked in ascending id order, one budget per call (see
  walk_matches in _lib), so the jobs are cancelled in id order over the calls.
  Returns {the ids of the jobs cancelled in id order, the cursor to call
  again with (false: done)}. ]]
local now = ARGV[2]
local filter = cjson.decode(ARGV[3])
local transition = cjson.decode(ARGV[6])
filter.statuses = transition.from
local ids = {}
local cursor = walk_matches(filter, ARGV[4], tonumber(ARGV[5]), true, false,
  function(id) ids[#ids + 1] = id end)
for _, id in ipairs(ids) do
  cancel(id, load_job(id), now, transition)
end
settle_dependencies(ids, now, ARGV[7])
finish()
return {ids, cursor}
