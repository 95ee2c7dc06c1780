--[[
  GCRA grant in fair shares: up to `want` whole units of a shared bucket
  (B2 leases) to one of the clients asking it: within its share, `rate / n`
  with a burst of `max(1, burst / n)`, down to empty; beyond it only from
  above a reserve of one share burst (none for a client alone) and, for one
  share interval, what a client refused within its share was short of. The
  twin of gcraGrantShare and Asking in src/limiter/fair.ts, line by line.

  Input:
    KEYS[1] the shared bucket (its tat, ms, as a string)
    KEYS[2] who asked lately: a sorted set, clientId -> last ask (ms)
    KEYS[3] each one's own bucket: a hash, clientId -> tat (ms); and the
            hold, fields `{holdUntil}` (ms) and `{holdUnits}`
    ARGV[1] now (ms, from the caller's injected clock)
    ARGV[2] ratePerSec
    ARGV[3] burst
    ARGV[4] want
    ARGV[5] clientId
    ARGV[6] window (ms): a client is forgotten this long after its last ask
    ARGV[7] 1: a share's burst at a time (all of `want`, if less) or none
  Output:
    { granted, retryAfterMs (string) }
]]
local VERSION = '__SLEW_VERSION__'
local EPSILON_MS = 1e-3
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local client = ARGV[5]
local window = tonumber(ARGV[6])
local inBursts = ARGV[7] == '1'
local fmt = function(x) return string.format('%.17g', x) end

-- gcraAvailable: whole units at now.
local available = function(tat, r, b)
  local interval = 1000 / r
  local base = math.max(tat, now)
  local units = math.floor((now + b * interval - base + EPSILON_MS) / interval)
  if units < 0 then units = 0 end
  return units
end
-- gcraTake's retryAfterMs: ms until `cost` units could be taken.
local retryAfter = function(tat, cost, r, b)
  local interval = 1000 / r
  local tolerance = b * interval
  local nextTat = math.max(tat, now) + cost * interval
  if nextTat - now <= tolerance + EPSILON_MS then return 0 end
  if cost > b then
    if tat <= now + EPSILON_MS then return 0 end
    return tat - now
  end
  return nextTat - tolerance - now
end

-- Who asks: those that did not within the window are forgotten, with their buckets.
local cutoff = fmt(now - window)
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', cutoff)
for i = 1, #gone, 1000 do
  redis.call('HDEL', KEYS[3], unpack(gone, i, math.min(i + 999, #gone)))
end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cutoff) end
redis.call('ZADD', KEYS[2], fmt(now), client)
local asking = redis.call('ZCARD', KEYS[2])
local stored = redis.call('GET', KEYS[1])
local tat = stored and tonumber(stored) or -math.huge
local storedClient = redis.call('HGET', KEYS[3], client)
local clientTat = storedClient and tonumber(storedClient) or -math.huge
local storedHold = redis.call('HMGET', KEYS[3], '{holdUntil}', '{holdUnits}')
local holdUntil = storedHold[1] and tonumber(storedHold[1]) or -math.huge
local holdUnits = storedHold[2] and tonumber(storedHold[2]) or 0

-- fairShare.
local shareRate = rate / asking
local shareBurst = math.max(1, burst / asking)
local interval = 1000 / shareRate
-- Kept for a client within its share (none for a client alone), and for one refused lately.
local held = 0
if now < holdUntil then held = holdUnits end
local reserve = math.min(math.min(shareBurst, burst - shareBurst) + held, burst - 1)
-- Units in the shared bucket, not rounded down (available's whole units are its floor).
local level = (now + burst * (1000 / rate) - math.max(tat, now) + EPSILON_MS) / (1000 / rate)
local avail = available(tat, rate, burst)
local own = available(clientTat, shareRate, shareBurst)
local fair = math.min(want, own, avail)
local extra = math.min(want - fair, math.max(0, math.floor(level - fair - reserve)))
-- In bursts: a share's burst at a time (all it asks for, if less), or none.
local least = 1
if inBursts then least = math.min(want, math.max(1, math.floor(shareBurst))) end
local granted = fair + extra
if granted < least then granted = 0 end
local after = tat
if granted > 0 then
  after = math.max(tat, now) + granted * (1000 / rate)
  redis.call('SET', KEYS[1], fmt(after), 'PX', math.ceil(after - now + burst * (1000 / rate) + 60000))
end
-- Its own bucket counts everything it got, beyond its share too (a debt of at most the window).
local clientAfter = clientTat
if granted > 0 then
  clientAfter = math.min(math.max(clientTat, now) + granted * interval, now + shareBurst * interval + window)
  redis.call('HSET', KEYS[3], client, fmt(clientAfter))
end
-- Refused within its share (its own bucket had more): kept back for its next ask.
local short = math.min(want, own) - fair
if short > 0 then
  holdUntil = now + interval
  holdUnits = math.max(held, short)
  redis.call('HSET', KEYS[3], '{holdUntil}', fmt(holdUntil), '{holdUnits}', fmt(holdUnits))
end
-- Both kept a little longer than they can matter: the window, this client's debt, the hold.
local keep = math.ceil(window + math.max(0, clientAfter - now, holdUntil - now)) + 1000
for k = 2, 3 do
  if redis.call('PTTL', KEYS[k]) < keep then redis.call('PEXPIRE', KEYS[k], keep) end
end
if granted >= want then return { granted, '0' } end
-- When would more be there, if nobody else takes: the rest within its share (at most one share
-- burst), or above the reserve (at most what is above it), whichever comes first.
local rest = math.min(want - granted, math.max(1, math.floor(shareBurst)))
local within = math.max(
  retryAfter(clientAfter, rest, shareRate, shareBurst),
  retryAfter(after, rest, rate, burst)
)
local above = math.min(want - granted, math.max(1, math.floor(burst - reserve)))
local beyond = retryAfter(after, reserve + above, rate, burst)
local retry = math.min(within, beyond)
if retry < 0 then retry = 0 end
return { granted, fmt(retry) }
