-- The gateway's push (ngx_rce_queue.c): a job goes onto a node's queue only while the node is
-- listed. A rescuer takes a dead node's queue and unlists it in one script
-- (workerd/lua/rescue_absorb.lua), so a job can never land in a queue nobody will read; a
-- node whose heartbeat key merely expired (a Redis stall) is still listed, and gets it.
-- KEYS[1] rce:nodes, KEYS[2] rce:queue:<node>; ARGV[1] <node>, ARGV[2] the job JSON.
-- Returns the queue's length, or 0 if the node is no longer listed.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return redis.call('LPUSH', KEYS[2], ARGV[2])
end
return 0
