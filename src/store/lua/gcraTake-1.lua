--[[
  GCRA take: the Redis twin of gcraTake in src/limiter/gcra.ts, line by line.

  Input:
    KEYS[1] bucket key (holds the theoretical arrival time, ms, as a string)
    ARGV[1] now (ms, from the caller's injected clock)
    ARGV[2] ratePerSec
    ARGV[3] burst
    ARGV[4] cost
  Output:
    { ok (1|0), retryAfterMs (string) }
]]
local VERSION = '__SLEW_VERSION__'
local EPSILON_MS = 1e-3
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local stored = redis.call('GET', KEYS[1])
local tat = stored and tonumber(stored) or -math.huge
local interval = 1000 / rate
local tolerance = burst * interval
local base = math.max(tat, now)
local nextTat = base + cost * interval
local fmt = function(x) return string.format('%.17g', x) end
-- Keep the key a little longer than it can matter.
local expire = math.ceil(nextTat - now + tolerance + 60000)
if nextTat - now <= tolerance + EPSILON_MS then
  redis.call('SET', KEYS[1], fmt(nextTat), 'PX', expire)
  return { 1, '0' }
end
if cost > burst then
  if tat <= now + EPSILON_MS then
    redis.call('SET', KEYS[1], fmt(nextTat), 'PX', expire)
    return { 1, '0' }
  end
  return { 0, fmt(tat - now) }
end
return { 0, fmt(nextTat - tolerance - now) }
