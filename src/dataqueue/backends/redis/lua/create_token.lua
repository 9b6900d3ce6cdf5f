--[[ create_token: a new waiting token for a job still held under the lease,
  stored together with the attempt's step_data that records it, so the
  token exists exactly when the attempt's record of it does.
  ARGV[1] prefix   ARGV[2] job id   ARGV[3] lease token   ARGV[4] step_data
  (JSON object)   ARGV[5] token id   ARGV[6] timeout_at (us, '' for none)
  ARGV[7] tags (JSON list)   ARGV[8] now (us)
  Returns 1 if created, 0 if the lease is lost (nothing written). ]]
local id, token_id, timeout_at, now = ARGV[2], ARGV[5], ARGV[6], ARGV[8]
if not held(id, ARGV[3]) then return 0 end
redis.call('HSET', k_job(id), 'step_data', ARGV[4], 'updated_at', now)
local fields = {
  'id', token_id, 'job_id', id, 'status', 'waiting', 'created_at', now, 'tags', ARGV[7],
}
if timeout_at ~= '' then
  fields[#fields + 1] = 'timeout_at'
  fields[#fields + 1] = timeout_at
  redis.call('ZADD', K_TOKEN_TIMEOUTS, timeout_at, token_id)
end
redis.call('HSET', k_token(token_id), unpack(fields))
redis.call('SADD', k_job_tokens(id), token_id)
return 1
