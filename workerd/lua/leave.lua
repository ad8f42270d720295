-- A node leaves the cluster (cluster.c): its heartbeat goes, and its name leaves rce:nodes
-- only when no job of it is left, so that a rescuer still finds what it left behind.
-- KEYS[1] rce:nodes, KEYS[2] rce:node:<me>, KEYS[3] rce:queue:<me>, KEYS[4] rce:running:<me>,
-- KEYS[5] rce:batch:<me>; ARGV[1] <me>.
-- Returns 1 if it left rce:nodes, 0 if jobs keep it listed.
redis.call('DEL', KEYS[2])
if redis.call('LLEN', KEYS[3]) == 0 and redis.call('LLEN', KEYS[4]) == 0
   and redis.call('LLEN', KEYS[5]) == 0 then
  redis.call('SREM', KEYS[1], ARGV[1])
  return 1
end
return 0
