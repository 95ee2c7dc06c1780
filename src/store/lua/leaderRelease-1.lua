--[[
  Give the lease up (graceful shutdown), only if still held as given.

  Input:
    KEYS[1] leader key
    ARGV[1] "<replica>|<fence>"
  Output:
    1 if released, 0 otherwise
]]
local VERSION = '__SLEW_VERSION__'
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
