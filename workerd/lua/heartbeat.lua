#!lua flags=allow-oom
-- The heartbeat (heartbeat.c): the node JSON under the node's key for its TTL, and the node
-- listed, but only while the node's epoch is still the one it registered with: a node that
-- a peer declared dead (rescue_claim.lua moved its epoch on) is fenced until it registers again.
-- KEYS[1] rce:node:<me>, KEYS[2] rce:nodes, KEYS[3] rce:epoch:<me>;
-- ARGV[1] the node JSON, ARGV[2] its TTL in ms, ARGV[3] my epoch, ARGV[4] <me>.
-- Returns the epoch that is current (0: none, Redis lost its data); written if it is mine.
-- allow-oom: a Redis at maxmemory must not make live nodes look dead (docs/operations.md).
local current = tonumber(redis.call('GET', KEYS[3]) or '0')
if current == tonumber(ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[4])
end
return current
