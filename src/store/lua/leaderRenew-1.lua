--[[
  Extend the leader lease, only if this replica still holds it with this
  fencing token.

  Input:
    KEYS[1] leader key
    ARGV[1] "<replica>|<fence>"
    ARGV[2] lease ttl (ms)
  Output:
    1 if renewed, 0 if the lease is lost
]]
local VERSION = '__SLEW_VERSION__'
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
