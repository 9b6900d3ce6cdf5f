--[[ add_cron_job: insert an active schedule unless its name is taken.
  ARGV[1] prefix   ARGV[2] schedule name   ARGV[3] next_run_at (us)
  ARGV[4..] the schedule hash's fields: name, value, ... (strings)
  The name index, the list and the due index are updated with the hash.
  Ids start from the clock, as job ids do (see reserve_ids).
  Returns the new id, or false when the name is taken. ]]
local name, next_run_at = ARGV[2], ARGV[3]
if redis.call('HEXISTS', K_CRON_NAMES, name) == 1 then return false end
local id = int_text(reserve_ids(K_CRON_ID, 1))
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', k_cron(id), 'id', id, unpack(fields))
redis.call('HSET', K_CRON_NAMES, name, id)
redis.call('ZADD', K_CRON_ALL, id, id)
redis.call('ZADD', K_CRON_DUE, next_run_at, id)
return id
