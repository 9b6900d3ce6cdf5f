--[[ remove_cron_job: delete a schedule and its indexes. The jobs it enqueued
  stay, keeping its id in cron_job_id.
  ARGV[1] prefix   ARGV[2] schedule id
  Returns 1 when a schedule was deleted, else 0. ]]
local id = ARGV[2]
local name = redis.call('HGET', k_cron(id), 'schedule_name')
if not name then return 0 end
redis.call('HDEL', K_CRON_NAMES, name)
redis.call('ZREM', K_CRON_ALL, id)
redis.call('ZREM', K_CRON_DUE, id)
redis.call('DEL', k_cron(id), k_cron_jobs(id))
return 1
