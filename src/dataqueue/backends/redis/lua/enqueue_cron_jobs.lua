--[[ enqueue_cron_jobs: claim due times and insert their jobs; the script is
  the atomic step, so each due time is claimed by exactly one caller.
  A tick claims its schedule's due time by moving next_run_at from
  claimed_run_at to next_run_at, only while the schedule is active and still
  has claimed_run_at. Unless allow_overlap is '1', the job is inserted only
  if no job in cron_jobs:<id> is pending, processing or waiting; that set
  holds the schedule's jobs, and completed or deleted ones are dropped from
  it as they are met (a completed job never runs again). A blocked due time
  is still claimed, with no job, and counted in skipped_runs like the
  skipped ones. Jobs are created by create_job(), as add_jobs creates them.
  ARGV[1] prefix   ARGV[2] now (us)
  ARGV[3..] one JSON object per tick: {"schedule_id", "claimed_run_at",
            "next_run_at" (strings), "skipped" (int), "job" (as
            create_job() reads it)}
  Publishes on the wake-up channel when a job was inserted.
  Returns {instance marker, {id of each inserted job, ...}}. ]]
local now = ARGV[2]
local marker = instance()
local ids = {}

local function instance_running(schedule_id)
  local key = k_cron_jobs(schedule_id)
  local running = false
  for _, job_id in ipairs(redis.call('SMEMBERS', key)) do
    local status = redis.call('HGET', k_job(job_id), 'status')
    if not status or status == 'completed' then
      redis.call('SREM', key, job_id)
    elseif status == 'pending' or status == 'processing' or status == 'waiting' then
      running = true
    end
  end
  return running
end

for i = 3, #ARGV do
  local tick = cjson.decode(ARGV[i])
  local sid = tick.schedule_id
  local schedule = load_hash(k_cron(sid))
  if schedule and schedule.status == 'active'
      and schedule.next_run_at == tick.claimed_run_at then
    local skipped = tonumber(schedule.skipped_runs or '0') + tick.skipped
    local changes = {'next_run_at', tick.next_run_at, 'updated_at', now}
    if schedule.allow_overlap == '1' or not instance_running(sid) then
      local id = int_text(reserve_ids(K_ID, 1))
      create_job(id, tick.job, now)
      redis.call('SADD', k_cron_jobs(sid), id)
      changes[#changes + 1] = 'last_job_id'
      changes[#changes + 1] = id
      changes[#changes + 1] = 'last_enqueued_at'
      changes[#changes + 1] = now
      ids[#ids + 1] = id
    else
      skipped = skipped + 1
    end
    changes[#changes + 1] = 'skipped_runs'
    changes[#changes + 1] = string.format('%d', skipped)
    redis.call('HSET', k_cron(sid), unpack(changes))
    redis.call('ZADD', K_CRON_DUE, tick.next_run_at, sid)
  end
end
finish()
if #ids > 0 then redis.call('PUBLISH', K_WAKEUP, #ids) end
return {marker, ids}
