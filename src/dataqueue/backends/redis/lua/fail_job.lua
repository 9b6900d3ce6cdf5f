--[[ fail_job: a job still held by the worker becomes failed.
  ARGV[1] prefix   ARGV[2] job id   ARGV[3] worker id   ARGV[4] now (us)
  ARGV[5] error_history entry (JSON object text)   ARGV[6] failure reason
  ARGV[7] next_attempt_at (us), or "" when no attempt is left
  ARGV[8] metadata of the 'failed' event (JSON text)
  Returns 1 if failed, 0 if the job is no longer held by this worker. ]]
local id, worker, now = ARGV[2], ARGV[3], ARGV[4]
local job = load_job(id)
if not job or job.status ~= 'processing' or job.locked_by ~= worker then return 0 end
-- Appending as text keeps every other entry byte for byte (cjson would not).
local history = job.error_history
if history == '[]' then
  history = '[' .. ARGV[5] .. ']'
else
  history = string.sub(history, 1, -2) .. ',' .. ARGV[5] .. ']'
end
update(id, job, {
  status = 'failed', error_history = history, failure_reason = ARGV[6],
  last_failed_at = now, updated_at = now,
  next_attempt_at = ARGV[7] ~= '' and ARGV[7],
  locked_by = false, locked_at = false,
})
add_event(id, 'failed', now, ARGV[8])
return 1
