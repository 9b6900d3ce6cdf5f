--[[ edit_cron_job: change fields of one schedule. When the expression or
  timezone changed, next_run_at (computed in Python) is set too, and only if
  the schedule still has the expected expression and timezone it was
  computed from.
  ARGV[1] prefix   ARGV[2] schedule id   ARGV[3] now (us)
  ARGV[4] JSON {"set": [field, value, ...], "unset": [field, ...],
                "next_run_at": us or absent, "expected": [expr, tz] or absent}
  Returns 1 when it changed, else 0. ]]
local id, now = ARGV[2], ARGV[3]
local edit = cjson.decode(ARGV[4])
local schedule = load_hash(k_cron(id))
if not schedule then return 0 end
if edit.expected and (schedule.cron_expression ~= edit.expected[1]
    or schedule.timezone ~= edit.expected[2]) then
  return 0
end
if #edit.unset > 0 then redis.call('HDEL', k_cron(id), unpack(edit.unset)) end
redis.call('HSET', k_cron(id), 'updated_at', now, unpack(edit.set))
if edit.next_run_at then
  redis.call('HSET', k_cron(id), 'next_run_at', edit.next_run_at)
  if schedule.status == 'active' then
    redis.call('ZADD', K_CRON_DUE, edit.next_run_at, id)
  end
end
return 1
