--[[ release_jobs: a worker shutting down gives back jobs it has not finished.
  Each job still held under its lease becomes pending, due now (an earlier
  run_at is kept, so it keeps its place in line), with the attempt it was
  claimed with given back, and a 'retried' event: ARGV[3]'s two texts
  (a JSON list, _transitions.metadata_template of released_metadata) with
  the JSON of the worker that held it between them.
  ARGV[1] prefix   ARGV[2] now (us)   ARGV[4..] job id, lease token, ...
  Returns how many jobs were released. ]]
local now = ARGV[2]
local retried = cjson.decode(ARGV[3])
local released = 0
for i = 4, #ARGV, 2 do
  local id = ARGV[i]
  local job = held(id, ARGV[i + 1], {'locked_by', 'attempts', 'priority', 'run_at'})
  if job then
    local owner = job.locked_by
    local changes = {
      status = 'pending', updated_at = now,
      attempts = tostring(math.max((tonumber(job.attempts) or 1) - 1, 0)),
      locked_by = false, locked_at = false, lease_token = false,
    }
    if (tonumber(job.run_at) or 0) > tonumber(now) then changes.run_at = now end
    update(id, job, changes, now)
    -- cjson.encode(nil) is null, as _transitions says for no worker
    add_event(id, 'retried', now, retried[1] .. cjson.encode(owner) .. retried[2])
    released = released + 1
  end
end
finish()
return released
