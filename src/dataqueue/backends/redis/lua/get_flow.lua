--[[ get_flow: one flow and its steps, read at one moment.
  ARGV[1] prefix   ARGV[2] flow id
  Returns nil for no such flow, else the JSON text of {"flow": its hash as an
  object, "steps": [[step index, job id, job type, job status, outcome,
  output, error history], ...]} in step order: false where absent, output
  only after a success and error history only after a fail. A step whose job
  was deleted by cleanup_old_jobs is left out, as on the other stores. ]]
local flow_id = ARGV[2]
local flow = load_hash(k_flow(flow_id))
if not flow then return nil end
local outcomes = {}
local flat = redis.call('HGETALL', k_flow_outcomes(flow_id))
for i = 1, #flat, 2 do outcomes[flat[i]] = flat[i + 1] end
local steps = {}
for index, row in ipairs(redis.call('LRANGE', k_flow_steps(flow_id), 0, -1)) do
  local step_index = index - 1
  local job_id, job_type = string.match(row, '^([^\t]*)\t(.*)$')
  local outcome = outcomes[tostring(step_index)] or false
  local job = redis.call('HMGET', k_job(job_id), 'status', 'output', 'error_history')
  if job[1] then
    steps[#steps + 1] = {
      step_index, job_id, job_type, job[1], outcome,
      outcome == 'success' and job[2], outcome == 'fail' and job[3],
    }
  end
end
return cjson.encode({flow = flow, steps = steps})
