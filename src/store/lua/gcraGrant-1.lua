--[[
  GCRA grant: up to `want` whole units now (partial grants allowed), the
  batched lease of refetch tokens (B2); the twin of gcraGrant in
  src/limiter/gcra.ts.

  Input:
    KEYS[1] bucket key
    ARGV[1] now (ms)
    ARGV[2] ratePerSec
    ARGV[3] burst
    ARGV[4] want
  Output:
    { granted, retryAfterMs (string) }
]]
local VERSION = '__SLEW_VERSION__'
local EPSILON_MS = 1e-3
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local stored = redis.call('GET', KEYS[1])
local tat = stored and tonumber(stored) or -math.huge
local interval = 1000 / rate
local tolerance = burst * interval
local fmt = function(x) return string.format('%.17g', x) end
local base = math.max(tat, now)
local available = math.floor((now + tolerance - base + EPSILON_MS) / interval)
if available < 0 then available = 0 end
local granted = math.min(want, available)
local after = tat
if granted > 0 then
  after = base + granted * interval
  redis.call('SET', KEYS[1], fmt(after), 'PX', math.ceil(after - now + tolerance + 60000))
end
if granted >= want then return { granted, '0' } end
-- When would the rest (at most one burst) be there, if nobody else takes?
local rest = math.min(want - granted, math.max(1, math.floor(burst)))
local restBase = math.max(after, now)
local restNext = restBase + rest * interval
local retry = 0
if restNext - now > tolerance + EPSILON_MS then retry = restNext - tolerance - now end
if retry < 0 then retry = 0 end
return { granted, fmt(retry) }
