-- The reaper (housekeeper.c): a node declared dead long enough ago, and not back since (its
-- epoch is still the one it was fenced with), leaves rce:dead; the caller then removes its
-- containers from this engine. A node that comes back registers with a new epoch and removes
-- its containers itself.
-- KEYS[1] rce:dead, KEYS[2] rce:epoch:<dead>; ARGV[1] <dead>, ARGV[2] now, unix ms,
-- ARGV[3] the grace in ms.
-- Returns 1 if the entry was removed (reap now), 0 if not yet or not any more.
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then
  return 0
end
local epoch, since = string.match(entry, '^(%d+) (%d+)$')
local current = redis.call('GET', KEYS[2])
if not epoch or current ~= epoch then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
if tonumber(ARGV[2]) - tonumber(since) < tonumber(ARGV[3]) then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
