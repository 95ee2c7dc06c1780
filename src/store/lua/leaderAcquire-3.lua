--[[
  Take (or keep) the fleet's leader lease, handing out a new fencing token to
  a new leader. SET NX PX, so at most one replica holds it at a time. Each new
  term is recorded (capped list, newest first) with the time it began, from
  the caller's clock; keeping the lease counts as a renewal of that term.

  Input:
    KEYS[1] leader key ("<replica>|<fence>")
    KEYS[2] fence key (latest fencing token)
    KEYS[3] terms list ("<fence>|<acquiredAt>|<renewedAt>|<replica>", newest first)
    ARGV[1] replica id
    ARGV[2] lease ttl (ms)
    ARGV[3] now (ms, from the caller's injected clock)
    ARGV[4] how many terms to keep
  Output:
    the fencing token (> 0) if this replica leads now, else 0
]]
local VERSION = '__SLEW_VERSION__'
local current = redis.call('GET', KEYS[1])
if current then
  local holder, fence = string.match(current, '^(.*)|(%d+)$')
  if holder ~= ARGV[1] then return 0 end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local head = redis.call('LINDEX', KEYS[3], 0)
  if head then
    local f, acquiredAt = string.match(head, '^(%d+)|([^|]*)|')
    if f == fence then
      redis.call('LSET', KEYS[3], 0, f .. '|' .. acquiredAt .. '|' .. ARGV[3] .. '|' .. ARGV[1])
    end
  end
  return tonumber(fence)
end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. fence, 'PX', ARGV[2])
redis.call('LPUSH', KEYS[3], fence .. '|' .. ARGV[3] .. '|' .. ARGV[3] .. '|' .. ARGV[1])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
return fence
