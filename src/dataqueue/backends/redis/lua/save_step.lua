--[[ save_step: store a running attempt's step results (the job's whole
  step_data, as the attempt holds it) while its lease holds.
  ARGV[1] prefix   ARGV[2] job id   ARGV[3] lease token   ARGV[4] step_data
  (JSON object)   ARGV[5] now (us)
  Returns 1 if stored, 0 if the lease is lost. ]]
local id = ARGV[2]
if not held(id, ARGV[3]) then return 0 end
redis.call('HSET', k_job(id), 'step_data', ARGV[4], 'updated_at', ARGV[5])
return 1
