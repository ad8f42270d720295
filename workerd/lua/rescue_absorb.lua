-- Rescue, step 3 of 3 (cluster.c): a dead node's queue moves, in order, behind what is on
-- ours, its batch list behind our batch list, and the node leaves rce:nodes.
-- KEYS[1] rce:nodes, KEYS[2] rce:node:<dead>, KEYS[3] rce:queue:<dead>, KEYS[4] rce:queue:<me>,
-- KEYS[5] rce:batch:<dead>, KEYS[6] rce:batch:<me>; ARGV[1] <dead>.
-- Returns {1 if this call removed the node from rce:nodes, jobs moved}; {0, 0} if it is alive.
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {0, 0}
end
local moved = 0
while redis.call('LMOVE', KEYS[3], KEYS[4], 'LEFT', 'RIGHT') do
  moved = moved + 1
end
while redis.call('LMOVE', KEYS[5], KEYS[6], 'LEFT', 'RIGHT') do
  moved = moved + 1
end
return {redis.call('SREM', KEYS[1], ARGV[1]), moved}
