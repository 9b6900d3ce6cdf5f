--[[ list_flows: a page of flows (of one status), newest first.
  ARGV[1] prefix   ARGV[2] status ('' for every flow)   ARGV[3] limit
  ARGV[4] offset
  Returns the JSON text of a list of the flows' hashes as objects, without
  join_spec (only the join reads it, through get_flow). ]]
local FIELDS = {
  'id', 'status', 'failure_policy', 'total_steps', 'remaining_steps', 'aborted',
  'timed_out', 'timeout_at', 'join_job_type', 'join_job_id', 'entity',
  'created_at', 'updated_at',
}
local key = ARGV[2] == '' and K_FLOWS or k_flow_status(ARGV[2])
local limit, offset = tonumber(ARGV[3]), tonumber(ARGV[4])
local size = redis.call('ZCARD', key)
-- Compared before use: an offset past 2^53 would reach Redis in exponent form.
if limit == 0 or offset >= size then return '[]' end
local rows = {}
for _, flow_id in ipairs(redis.call('ZREVRANGE', key, offset, math.min(offset + limit, size) - 1)) do
  local values = redis.call('HMGET', k_flow(flow_id), unpack(FIELDS))
  if values[1] then
    local row = {}
    for i, name in ipairs(FIELDS) do row[name] = values[i] or nil end
    rows[#rows + 1] = row
  end
end
return #rows > 0 and cjson.encode(rows) or '[]'
