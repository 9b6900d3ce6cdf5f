--[[ set_output: store the output of a job still held under the lease
  (ctx.set_output; its completion writes the same value again).
  ARGV[1] prefix   ARGV[2] job id   ARGV[3] lease token   ARGV[4] output (JSON text)
  ARGV[5] now (us)
  Returns 1 if stored, 0 if the lease is lost. ]]
local id = ARGV[2]
if not held(id, ARGV[3]) then return 0 end
redis.call('HSET', k_job(id), 'output', ARGV[4], 'updated_at', ARGV[5])
return 1
