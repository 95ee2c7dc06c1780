--[[
  Extend the leader lease, only if this replica still holds it with this
  fencing token, and record the renewal's time in its term.

  Input:
    KEYS[1] leader key
    KEYS[2] terms list ("<fence>|<acquiredAt>|<renewedAt>|<replica>", newest first)
    ARGV[1] "<replica>|<fence>"
    ARGV[2] lease ttl (ms)
    ARGV[3] now (ms, from the caller's injected clock)
  Output:
    1 if renewed, 0 if the lease is lost
]]
local VERSION = '__SLEW_VERSION__'
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local replica, fence = string.match(ARGV[1], '^(.*)|(%d+)$')
local head = redis.call('LINDEX', KEYS[2], 0)
if head then
  local f, acquiredAt = string.match(head, '^(%d+)|([^|]*)|')
  if f == fence then
    redis.call('LSET', KEYS[2], 0, f .. '|' .. acquiredAt .. '|' .. ARGV[3] .. '|' .. replica)
  end
end
return 1
