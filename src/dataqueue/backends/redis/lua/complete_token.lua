--[[ complete_token: a token still waiting becomes completed with its
  output; the job waiting on it becomes pending, due now ('resumed' event),
  and idle processors are woken. A token already completed or timed out is
  left alone: completion and expiry each check the status first, and a
  script runs alone, so a token gets exactly one outcome.
  ARGV[1] prefix   ARGV[2] token id   ARGV[3] output (JSON)   ARGV[4] now (us)
  ARGV[5] the 'resumed' event's metadata (JSON, built in Python)
  Returns '' when completed, else the token's status, or 'unknown'. ]]
local token_id, now = ARGV[2], ARGV[4]
local token = redis.call('HMGET', k_token(token_id), 'status', 'job_id')
if not token[1] then return 'unknown' end
if token[1] ~= 'waiting' then return token[1] end
redis.call('HSET', k_token(token_id), 'status', 'completed', 'output', ARGV[3],
  'completed_at', now)
redis.call('ZREM', K_TOKEN_TIMEOUTS, token_id)
if resume_waiter(token_id, token[2], now, ARGV[5]) then
  redis.call('PUBLISH', K_WAKEUP, 1)
end
finish()
return ''
