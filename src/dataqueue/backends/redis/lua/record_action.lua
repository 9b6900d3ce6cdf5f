--[[ record_action: push one action onto the front of the list of actions
  and, in the same step, trim the list to the newest `keep`.
  ARGV[1] prefix   ARGV[2] the action as JSON text   ARGV[3] keep (>= 1)
  Returns 1. ]]
redis.call('LPUSH', K_ACTIONS, ARGV[2])
redis.call('LTRIM', K_ACTIONS, 0, tonumber(ARGV[3]) - 1)
return 1
