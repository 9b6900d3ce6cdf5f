--[[ get_jobs: part of a page of the jobs matching a filter, newest (highest
  id) first.
  ARGV[1] prefix   ARGV[2] filter JSON (see matches() in _lib)
  ARGV[3] limit (jobs still wanted)   ARGV[4] offset (matches still to skip)
  ARGV[5] cursor ('' at first)   ARGV[6] budget (candidates per call)
  An exact source of one zset answers the whole page by rank; otherwise one
  call walks at most a budget of candidates (see walk_matches in _lib).
  Returns {JSON text of a list of the jobs' hashes as objects, how many
  matches were skipped, the cursor to call again with (false: done)}. ]]
local filter = cjson.decode(ARGV[2])
local limit, skip, cursor = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
if limit == 0 then return {'[]', 0, false} end
local rows = {}
local source = filter_source(filter)
if source.exact and #source.keys == 1 and cursor == '' then
  local key = source.keys[1]
  local size = redis.call('ZCARD', key)
  -- Compared before use: an offset past 2^53 would reach Redis in exponent form.
  if skip >= size then return {'[]', 0, false} end
  for _, id in ipairs(redis.call('ZREVRANGE', key, skip, math.min(skip + limit, size) - 1)) do
    rows[#rows + 1] = load_job(id)
  end
  return {#rows > 0 and cjson.encode(rows) or '[]', skip, false}
end
local skipped = 0
cursor = walk_matches(filter, cursor, tonumber(ARGV[6]), false, false, function(id)
  if skipped < skip then
    skipped = skipped + 1
    return true
  end
  rows[#rows + 1] = load_job(id)
  return #rows < limit
end)
return {#rows > 0 and cjson.encode(rows) or '[]', skipped, cursor}
