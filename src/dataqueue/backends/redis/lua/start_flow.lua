--[[ start_flow: insert a flow, its step rows and its steps' jobs at once.
  ARGV[1] prefix   ARGV[2] now (us)
  ARGV[3] the flow as JSON: {"id", "fields": [name, value, ...] (its hash
    without seq), "timeout_at" (us, absent: no deadline)}
  ARGV[4..] one JSON object per step in step order, as create_job() reads it
    (its fields carry flow_id and flow_step_index)
  The flow starts running with remaining_steps = total_steps = the number
  of steps. Publishes on the wake-up channel.
  Returns {instance marker, {job id of each step, ...}}. ]]
local now = ARGV[2]
local marker = instance()
local flow = cjson.decode(ARGV[3])
local count = #ARGV - 3
local seq = redis.call('INCR', K_FLOW_SEQ)
local next_id = reserve_ids(K_ID, count)
local ids, rows = {}, {}
for i = 4, #ARGV do
  local spec = cjson.decode(ARGV[i])
  local id = int_text(next_id)
  next_id = next_id + 1
  create_job(id, spec, now)
  ids[#ids + 1] = id
  rows[#rows + 1] = id .. '\t' .. spec.job_type
end
call_in_slices('RPUSH', k_flow_steps(flow.id), rows)
redis.call('HSET', k_flow(flow.id), 'seq', seq, unpack(flow.fields))
redis.call('ZADD', K_FLOWS, seq, flow.id)
redis.call('ZADD', k_flow_status('running'), seq, flow.id)
if flow.timeout_at then redis.call('ZADD', K_FLOW_TIMEOUTS, flow.timeout_at, flow.id) end
finish()
redis.call('PUBLISH', K_WAKEUP, count)
return {marker, ids}
