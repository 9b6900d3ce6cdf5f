--[[ get_limits: every stored row of limits and pauses.
  ARGV[1] prefix
  Returns the limits hash as a flat job type / JSON list (see keys.py). ]]
return redis.call('HGETALL', P .. 'limits')
