--[[ count_jobs: how many jobs match a filter, per status.
  ARGV[1] prefix   ARGV[2] filter JSON (see matches() in _lib; no status)
  ARGV[3] the statuses as a JSON list
  ARGV[4] cursor ('' at first)   ARGV[5] budget (candidates per call)
  With no filter, or a job type alone, each count is the ZCARD of one status
  index (the filter with that status has an exact source of one zset). Otherwise one call counts the matches
  among at most a budget of candidates (see walk_matches in _lib).
  Returns {one count per status in the order given, the cursor to call again
  with (false: done)}. ]]
local filter = cjson.decode(ARGV[2])
local statuses = cjson.decode(ARGV[3])
local counts = {}
if ARGV[4] == '' then
  for i, status in ipairs(statuses) do
    filter.status = status
    local source = filter_source(filter)
    if not (source.exact and #source.keys == 1) then break end
    counts[i] = redis.call('ZCARD', source.keys[1])
  end
  filter.status = nil
  if #counts == #statuses then return {counts, false} end
end
local by_status = {}
local cursor = walk_matches(filter, ARGV[4], tonumber(ARGV[5]), false, true,
  function(_, job) by_status[job.status] = (by_status[job.status] or 0) + 1 end)
for i, status in ipairs(statuses) do counts[i] = by_status[status] or 0 end
return {counts, cursor}
