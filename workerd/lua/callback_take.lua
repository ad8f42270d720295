-- A callback sender (callback.c) takes the next callback that is due: the earliest entry of
-- rce:callbacks whose time has come. Taking it moves its time a lease ahead, so a sender that
-- dies while it delivers leaves it to be taken again when the lease ends; any node's sender
-- may take any job's callback (they live in Redis, not in a node).
-- KEYS[1] rce:callbacks; ARGV[1] now, unix ms, ARGV[2] the lease, ms.
-- Returns the job id, or false when nothing is due.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then
  return false
end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), due[1])
return due[1]
