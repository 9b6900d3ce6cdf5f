--[[ complete_job: a job still held by the worker becomes completed.
  ARGV[1] prefix   ARGV[2] job id   ARGV[3] worker id   ARGV[4] now (us)
  ARGV[5] output (JSON text)   ARGV[6] metadata of the 'completed' event (JSON text)
  Returns 1 if completed, 0 if the job is no longer held by this worker. ]]
local id, worker, now = ARGV[2], ARGV[3], ARGV[4]
local job = load_job(id)
if not job or job.status ~= 'processing' or job.locked_by ~= worker then return 0 end
update(id, job, {
  status = 'completed', completed_at = now, updated_at = now, output = ARGV[5],
  locked_by = false, locked_at = false,
})
add_event(id, 'completed', now, ARGV[6])
return 1
