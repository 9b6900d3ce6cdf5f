--[[ retry_job: a failed or processing job becomes pending (due at its run_at).
  ARGV[1] prefix   ARGV[2] job id   ARGV[3] now (us)
  Returns 1 if the job was retried, else 0. ]]
local id, now = ARGV[2], ARGV[3]
local job = load_job(id)
if not job or (job.status ~= 'failed' and job.status ~= 'processing') then return 0 end
update(id, job, {
  status = 'pending', next_attempt_at = false, locked_by = false, locked_at = false,
  last_retried_at = now, updated_at = now,
})
add_event(id, 'retried', now, '{}')
return 1
