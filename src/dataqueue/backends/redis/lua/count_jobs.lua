--[[ count_jobs: how many jobs match a filter, per status.
  ARGV[1] prefix   ARGV[2] filter JSON (see matches() in _lib; no status)
  ARGV[3] the statuses as a JSON list
  Without filters each count is a ZCARD; with filters the candidate jobs
  are read, as get_jobs reads them.
  Returns one count per status, in the order given. ]]
local filter = cjson.decode(ARGV[2])
local statuses = cjson.decode(ARGV[3])
local counts = {}
if next(filter) == nil then
  for i, status in ipairs(statuses) do counts[i] = redis.call('ZCARD', k_status(status)) end
  return counts
end
local by_status = {}
each_match(filter, function(_, job)
  by_status[job.status] = (by_status[job.status] or 0) + 1
end)
for i, status in ipairs(statuses) do counts[i] = by_status[status] or 0 end
return counts
