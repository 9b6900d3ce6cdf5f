--[[ expire_timed_out_tokens: waiting tokens whose timeout_at <= now become
  timed_out; a job waiting on one becomes pending again ('resumed' event).
  ARGV[1] prefix   ARGV[2] now (us)
  Returns how many tokens expired. ]]
local now = ARGV[2]
local expired = 0
for _, token_id in ipairs(redis.call('ZRANGEBYSCORE', K_TOKEN_TIMEOUTS, '-inf', now)) do
  redis.call('ZREM', K_TOKEN_TIMEOUTS, token_id)
  local token = load_hash(k_token(token_id))
  if token and token.status == 'waiting' then
    redis.call('HSET', k_token(token_id), 'status', 'timed_out', 'completed_at', now)
    expired = expired + 1
    local job = token.job_id and load_job(token.job_id)
    if job and job.status == 'waiting' and job.wait_token_id == token_id then
      update(token.job_id, job, {status = 'pending', updated_at = now}, now)
      add_event(token.job_id, 'resumed', now,
        cjson.encode({token_id = token_id, timed_out = true}))
    end
  end
end
finish()
return expired
