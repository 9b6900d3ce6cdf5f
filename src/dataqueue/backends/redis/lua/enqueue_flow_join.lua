--[[ enqueue_flow_join: insert a ready flow's join job and make the flow
  joined, at once; a flow in any other status changes nothing, so of many
  callers racing for one flow exactly one inserts its join.
  ARGV[1] prefix   ARGV[2] now (us)   ARGV[3] flow id
  ARGV[4] the join as JSON, as create_job() reads it
  Publishes on the wake-up channel when the join was inserted.
  Returns {instance marker, the join's id (nil: nothing written)}. ]]
local now, flow_id = ARGV[2], ARGV[3]
local marker = instance()
local flow = redis.call('HMGET', k_flow(flow_id), 'status', 'seq')
if flow[1] ~= 'ready' then return {marker, false} end
local id = int_text(reserve_ids(K_ID, 1))
create_job(id, cjson.decode(ARGV[4]), now)
redis.call('HSET', k_flow(flow_id), 'status', 'joined', 'join_job_id', id, 'updated_at', now)
move_flow(flow_id, flow[2], 'ready', 'joined')
finish()
redis.call('PUBLISH', K_WAKEUP, 1)
return {marker, id}
