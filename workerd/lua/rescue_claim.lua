-- Rescue, step 1 of 3 (cluster.c): a dead node's running jobs move into our running list, and
-- the node is fenced: its epoch moves on, so its heartbeat is refused (heartbeat.lua) and its
-- late results are dropped (finish.lua) until it registers again; rce:dead notes when, for the
-- reaper of its containers (dead_expired.lua).
-- KEYS[1] rce:nodes, KEYS[2] rce:node:<dead>, KEYS[3] rce:running:<dead>,
-- KEYS[4] rce:running:<me>, KEYS[5] rce:epoch:<dead>, KEYS[6] rce:dead;
-- ARGV[1] <dead>, ARGV[2] now, unix ms.
-- Returns false if the node is alive or no longer listed, else {the epoch the jobs were taken
-- from, the jobs moved, newest first...}.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 1 then
  return false
end
local from = tonumber(redis.call('GET', KEYS[5]) or '0')
local noted = redis.call('HGET', KEYS[6], ARGV[1])
if noted and tonumber(string.match(noted, '^(%d+) ')) == from then
  -- a peer fenced it a moment ago and has not absorbed its queue yet (rescue_absorb.lua takes
  -- it out of rce:nodes): fenced once is enough, the jobs it still holds were taken before
  from = from - 1
else
  local now = redis.call('INCR', KEYS[5])
  redis.call('HSET', KEYS[6], ARGV[1], string.format('%d %s', now, ARGV[2]))
end
local out = {from}
local job = redis.call('LPOP', KEYS[3])
while job do
  redis.call('LPUSH', KEYS[4], job)
  out[#out + 1] = job
  job = redis.call('LPOP', KEYS[3])
end
return out
