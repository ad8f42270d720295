#!lua flags=allow-oom
-- A callback sender (callback.c) takes the next callback that is due: the earliest entry of
-- rce:callbacks whose time has come, by Redis's clock (nodes' clocks may differ). Taking it
-- moves its time a lease ahead, so a sender that dies while it delivers leaves it to be taken
-- again when the lease ends; any node's sender may take any job's callback (they live in
-- Redis, not in a node). The new time is the taker's token: callback_done.lua acts only while
-- the entry still has it, so a sender whose lease ran out cannot undo another's delivery.
-- allow-oom: callbacks keep flowing when Redis is at maxmemory (this only rewrites a score).
-- KEYS[1] rce:callbacks; ARGV[1] the lease, ms.
-- Returns {job id, token}, or false when nothing is due.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #due == 0 then
  return false
end
local token = now + tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], token, due[1])
return {due[1], tostring(token)}
