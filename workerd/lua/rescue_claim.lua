-- Rescue, step 1 of 3 (cluster.c): a dead node's running jobs move into our running list.
-- KEYS[1] rce:nodes, KEYS[2] rce:node:<dead>, KEYS[3] rce:running:<dead>,
-- KEYS[4] rce:running:<me>; ARGV[1] <dead>.
-- Returns false if the node is alive or no longer listed, else the jobs moved, newest first.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 1 then
  return false
end
local jobs = {}
local job = redis.call('LPOP', KEYS[3])
while job do
  redis.call('LPUSH', KEYS[4], job)
  jobs[#jobs + 1] = job
  job = redis.call('LPOP', KEYS[3])
end
return jobs
