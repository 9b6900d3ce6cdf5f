--[[ resume_cron_job: a paused schedule becomes active again from its next
  run after now (computed in Python), so runs missed while paused are not
  enqueued. The expected expression and timezone guard against an edit made
  between the read that computed next_run_at and this write.
  ARGV[1] prefix   ARGV[2] schedule id   ARGV[3] next_run_at (us)
  ARGV[4] expected expression   ARGV[5] expected timezone   ARGV[6] now (us)
  Returns 1 when it changed, else 0. ]]
local id, next_run_at, now = ARGV[2], ARGV[3], ARGV[6]
local schedule = load_hash(k_cron(id))
if not schedule or schedule.status ~= 'paused'
    or schedule.cron_expression ~= ARGV[4] or schedule.timezone ~= ARGV[5] then
  return 0
end
redis.call('HSET', k_cron(id), 'status', 'active', 'next_run_at', next_run_at,
  'updated_at', now)
redis.call('ZADD', K_CRON_DUE, next_run_at, id)
return 1
