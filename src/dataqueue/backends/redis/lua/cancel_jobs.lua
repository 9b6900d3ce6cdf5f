--[[ cancel_jobs: cancel every pending or waiting job matching a filter
  (their waiting tokens become timed_out).
  ARGV[1] prefix   ARGV[2] now (us)   ARGV[3] filter JSON (see matches() in _lib)
  Returns the ids of the jobs cancelled, in id order. ]]
local now = ARGV[2]
local filter = cjson.decode(ARGV[3])
filter.statuses = {'pending', 'waiting'}
local ids = sort_ids(matching_ids(filter))
for _, id in ipairs(ids) do
  cancel(id, load_job(id), now)
end
finish()
return ids
