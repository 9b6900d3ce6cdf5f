--[[ expire_timed_out_tokens: waiting tokens whose timeout_at <= now become
  timed_out; a job waiting on one becomes pending, due now ('resumed'
  event), and idle processors are woken. A token completed meanwhile is
  skipped (complete_token took it out of token_timeouts already).
  ARGV[1] prefix   ARGV[2] now (us)
  ARGV[3] the 'resumed' event, a JSON list of two texts the JSON of the
    token's id goes between (_transitions.metadata_template).
  Returns how many tokens expired. ]]
local now = ARGV[2]
local resumed_template = cjson.decode(ARGV[3])
local expired, resumed = 0, 0
local due = redis.call('ZRANGEBYSCORE', K_TOKEN_TIMEOUTS, '-inf', now)
for _, token_id in ipairs(due) do
  local token = redis.call('HMGET', k_token(token_id), 'status', 'job_id')
  if token[1] == 'waiting' then
    redis.call('HSET', k_token(token_id), 'status', 'timed_out', 'completed_at', now)
    expired = expired + 1
    local resumed_event = resumed_template[1] .. cjson.encode(token_id) .. resumed_template[2]
    if resume_waiter(token_id, token[2], now, resumed_event) then
      resumed = resumed + 1
    end
  end
end
if #due > 0 then call_in_slices('ZREM', K_TOKEN_TIMEOUTS, due) end
if resumed > 0 then redis.call('PUBLISH', K_WAKEUP, resumed) end
finish()
return expired
