-- The gateway's push (ngx_rce_queue.c): a job goes onto a node's queue only while the node is
-- listed. A rescuer takes a dead node's queue and unlists it in one script
-- (workerd/lua/rescue_absorb.lua), so a job can never land in a queue nobody will read; a
-- node whose heartbeat key merely expired (a Redis stall) is still listed, and gets it.
-- KEYS[1] rce:nodes, KEYS[2] rce:queue:<node>; ARGV[1] <node>, ARGV[2] the job JSON.
-- An asynchronous job also has KEYS[3] rce:job:<id>, its state, written with the push;
-- ARGV[3] its lifetime in s, ARGV[4] the language, ARGV[5] the output encoding, ARGV[6] the
-- unix ms it was queued.
-- Returns the queue's length, or 0 if the node is no longer listed.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local length = redis.call('LPUSH', KEYS[2], ARGV[2])
if KEYS[3] then
  redis.call('HSET', KEYS[3], 'state', 'queued', 'node', ARGV[1], 'queue', KEYS[2],
             'job', ARGV[2], 'language', ARGV[4], 'output_encoding', ARGV[5],
             'enqueued_ms', ARGV[6])
  redis.call('EXPIRE', KEYS[3], ARGV[3])
end
return length
