--[[
  The leader's write: append messages to the change log and save engine
  state, all or nothing, only under the current fencing token and the epoch
  the leader's state belongs to (a deposed leader's write changes nothing,
  nor does one of a leader from before the store lost its state: fencing
  tokens start again from 1 in an empty store, the epoch does not repeat).
  Everything is checked before anything is written, so a refused commit
  leaves no trace.

  Input:
    KEYS[1] fence key
    KEYS[2] log stream
    KEYS[3] state hash
    KEYS[4] epoch key (the fleet's epoch)
    KEYS[5..] sets named by S ops (e.g. a rollout's delivered clients)
    ARGV[1] fencing token
    ARGV[2] log max length: older entries are trimmed, and the highest trimmed
            seq is kept in the state hash as 'logFloor' (a client resuming from
            below it has lost its gap)
    ARGV[3] the epoch the leader's state belongs to ('' : not checked)
    ARGV[4..] ops, each an op code and its arguments:
      'X', seq, to, message, meta
                              XADD "<seq>-0" to=<comma-joined ids or ''> m=<signed JSON> x=<meta JSON>
      'H', field, value       HSET state hash
      'D', field              HDEL state hash
      'S', k, count, m1..mn   SADD KEYS[k] members
      'R', k                  DEL KEYS[k]
  Output:
    the number of ops applied, or an error reply:
    'FENCED <current>' when the token is stale,
    'EPOCH <current>' when the fleet's epoch is another (or none),
    'SEQ <last id>' when a log seq does not come after the log's last one
]]
local VERSION = '__SLEW_VERSION__'
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current ~= tonumber(ARGV[1]) then
  return redis.error_reply('FENCED ' .. current)
end
if ARGV[3] ~= '' then
  local epoch = redis.call('GET', KEYS[4]) or ''
  if epoch ~= ARGV[3] then return redis.error_reply('EPOCH ' .. epoch) end
end
-- Check pass: log seqs strictly increase, starting after the log's last id.
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local lastSeq = 0
if last[1] then lastSeq = tonumber(string.match(last[1][1], '^(%d+)')) end
local i = 4
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'X' then
    local seq = tonumber(ARGV[i + 1])
    if seq <= lastSeq then return redis.error_reply('SEQ ' .. lastSeq) end
    lastSeq = seq
    i = i + 5
  elseif op == 'H' then i = i + 3
  elseif op == 'D' or op == 'R' then i = i + 2
  elseif op == 'S' then i = i + 3 + tonumber(ARGV[i + 2])
  else return redis.error_reply('OP ' .. tostring(op)) end
end
-- Write pass.
local applied = 0
i = 4
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'X' then
    redis.call('XADD', KEYS[2], ARGV[i + 1] .. '-0', 'to', ARGV[i + 2], 'm', ARGV[i + 3], 'x', ARGV[i + 4])
    i = i + 5
  elseif op == 'H' then
    redis.call('HSET', KEYS[3], ARGV[i + 1], ARGV[i + 2])
    i = i + 3
  elseif op == 'D' then
    redis.call('HDEL', KEYS[3], ARGV[i + 1])
    i = i + 2
  elseif op == 'R' then
    redis.call('DEL', KEYS[tonumber(ARGV[i + 1])])
    i = i + 2
  else
    local k = tonumber(ARGV[i + 1])
    local count = tonumber(ARGV[i + 2])
    for j = 1, count, 5000 do
      redis.call('SADD', KEYS[k], unpack(ARGV, i + 2 + j, i + 2 + math.min(j + 4999, count)))
    end
    i = i + 3 + count
  end
  applied = applied + 1
end
local excess = redis.call('XLEN', KEYS[2]) - tonumber(ARGV[2])
if excess > 0 then
  local old = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', excess)
  local floor = tonumber(string.match(old[#old][1], '^(%d+)'))
  redis.call('XTRIM', KEYS[2], 'MINID', string.format('%.0f', floor + 1) .. '-0')
  redis.call('HSET', KEYS[3], 'logFloor', string.format('%.0f', floor))
end
return applied
