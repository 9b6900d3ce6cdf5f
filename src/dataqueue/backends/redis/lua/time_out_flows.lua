--[[ time_out_flows: running flows whose deadline has come become ready with
  timed_out set (their join is then due with what has finished).
  ARGV[1] prefix   ARGV[2] now (us)
  A flow leaves flow_timeouts when it becomes ready by any path.
  Returns the ids of the flows timed out. ]]
local now = ARGV[2]
local timed_out = {}
for _, flow_id in ipairs(redis.call('ZRANGEBYSCORE', K_FLOW_TIMEOUTS, '-inf', now)) do
  local flow = redis.call('HMGET', k_flow(flow_id), 'status', 'seq')
  if flow[1] == 'running' then
    redis.call('HSET', k_flow(flow_id), 'status', 'ready', 'timed_out', '1', 'updated_at', now)
    move_flow(flow_id, flow[2], 'running', 'ready')
    timed_out[#timed_out + 1] = flow_id
  end
  redis.call('ZREM', K_FLOW_TIMEOUTS, flow_id)
end
return timed_out
