--[[
  Take (or keep) the fleet's leader lease, handing out a new fencing token to
  a new leader. SET NX PX, so at most one replica holds it at a time.

  Input:
    KEYS[1] leader key ("<replica>|<fence>")
    KEYS[2] fence key (latest fencing token)
    ARGV[1] replica id
    ARGV[2] lease ttl (ms)
  Output:
    the fencing token (> 0) if this replica leads now, else 0
]]
local VERSION = '__SLEW_VERSION__'
local current = redis.call('GET', KEYS[1])
if current then
  local holder, fence = string.match(current, '^(.*)|(%d+)$')
  if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(fence)
  end
  return 0
end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. fence, 'PX', ARGV[2])
return fence
