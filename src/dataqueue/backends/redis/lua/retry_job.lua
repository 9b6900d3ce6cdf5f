--[[ retry_job: a failed or cancelled job becomes pending and due now (its
  run_at is kept when already due, so it keeps its place); any other job,
  a processing one above all, is left alone.
  ARGV[1] prefix   ARGV[2] job id   ARGV[3] now (us)
  ARGV[4] the retry transition (JSON, see starts_from in _lib)
  Returns 1 if the job was retried, else 0. ]]
local id, now, transition = ARGV[2], ARGV[3], cjson.decode(ARGV[4])
local job = load_job(id)
if not job or not starts_from(transition, job.status) then return 0 end
local changes = {
  status = 'pending', next_attempt_at = false, last_retried_at = now, updated_at = now,
}
if (tonumber(job.run_at) or 0) > tonumber(now) then changes.run_at = now end
update(id, job, changes, now)
add_event(id, 'retried', now, transition.metadata)
finish()
return 1
