--[[ get_actions: the newest `limit` actions, newest first.
  ARGV[1] prefix   ARGV[2] limit (>= 1)
  Returns their JSON texts. ]]
return redis.call('LRANGE', K_ACTIONS, 0, tonumber(ARGV[2]) - 1)
