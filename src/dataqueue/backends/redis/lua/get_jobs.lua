--[[ get_jobs: a page of the jobs matching a filter, newest (highest id) first.
  ARGV[1] prefix   ARGV[2] filter JSON (see matches() in _lib)
  ARGV[3] limit    ARGV[4] offset
  Returns the JSON text of a list of the jobs' hashes as objects. ]]
local filter = cjson.decode(ARGV[2])
local limit, skip = tonumber(ARGV[3]), tonumber(ARGV[4])
local rows = {}
if limit == 0 then return '[]' end
each_match(filter, function(id, job)
  if skip > 0 then
    skip = skip - 1
    return true
  end
  rows[#rows + 1] = job
  return #rows < limit
end)
return #rows > 0 and cjson.encode(rows) or '[]'
