--[[ cleanup_old_flows: from one batch of joined flows, delete those last
  updated before a time, with their steps, outcomes and index entries. Their
  jobs stay: cleanup_old_jobs takes them (a late step of a deleted flow
  finds no flow and records nothing, as for any flow no longer running).
  ARGV[1] prefix   ARGV[2] before (us)   ARGV[3] batch size
  ARGV[4] the seq after which to look ('-inf' at first)
  {p}flow_status:joined is in creation order, not in updated_at order, so
  the caller walks it batch by batch from the seq each call returns.
  Returns {how many flows were deleted, the seq of the last flow looked at
  (false when the batch was not full: the walk is over)}. ]]
local before, batch_size = tonumber(ARGV[2]), tonumber(ARGV[3])
local key = k_flow_status('joined')
local batch = redis.call('ZRANGEBYSCORE', key, '(' .. ARGV[4], '+inf',
  'WITHSCORES', 'LIMIT', 0, batch_size)
local gone, deleted = {}, 0
for i = 1, #batch, 2 do
  local flow_id = batch[i]
  local flow = redis.call('HMGET', k_flow(flow_id), 'status', 'updated_at')
  if not flow[1] then
    gone[#gone + 1] = flow_id
  elseif flow[1] == 'joined' and tonumber(flow[2]) < before then
    redis.call('DEL', k_flow(flow_id), k_flow_steps(flow_id), k_flow_outcomes(flow_id))
    gone[#gone + 1] = flow_id
    deleted = deleted + 1
  end
end
if #gone > 0 then
  call_in_slices('ZREM', key, gone)
  call_in_slices('ZREM', K_FLOWS, gone)
  call_in_slices('ZREM', K_FLOW_TIMEOUTS, gone)
end
if #batch < 2 * batch_size then return {deleted, false} end
return {deleted, batch[#batch]}
