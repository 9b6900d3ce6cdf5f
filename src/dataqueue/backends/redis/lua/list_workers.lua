--[[ list_workers: every registered worker.
  ARGV[1] prefix
  Returns the JSON text of a list of the workers' hashes as objects. ]]
local rows = {}
for _, id in ipairs(redis.call('ZRANGE', K_WORKERS, 0, -1)) do
  local row = load_hash(k_worker(id))
  if row then rows[#rows + 1] = row end
end
return #rows > 0 and cjson.encode(rows) or '[]'
