--[[ prolong_job: refresh the lock of a job still held by the worker.
  ARGV[1] prefix   ARGV[2] job id   ARGV[3] worker id   ARGV[4] now (us)
  ARGV[5] metadata of the 'prolonged' event (JSON text)
  Returns 1 if prolonged, else 0. ]]
local id, worker, now = ARGV[2], ARGV[3], ARGV[4]
local job = load_job(id)
if not job or job.status ~= 'processing' or job.locked_by ~= worker then return 0 end
update(id, job, {locked_at = now, updated_at = now})
add_event(id, 'prolonged', now, ARGV[5])
return 1
