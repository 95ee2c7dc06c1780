--[[
  Forget a client's presence only if it is still the record given: a stream
  that ended (or a replica that died) must not erase the presence a newer
  stream of the same client wrote meanwhile, on this replica or another.

  Input:
    KEYS[1] presence hash
    ARGV[1] client id
    ARGV[2] the record expected
  Output:
    1 if removed, 0 if it was another record (or none)
]]
local VERSION = '__SLEW_VERSION__'
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
