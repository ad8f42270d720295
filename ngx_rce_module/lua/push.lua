-- The gateway's push (ngx_rce_queue.c): a job goes onto a node's lists only while the node is
-- listed. A rescuer takes a dead node's lists and unlists it in one script
-- (workerd/lua/rescue_absorb.lua), so a job can never land where nobody will read it; a node
-- whose heartbeat key merely expired (a Redis stall) is still listed, and gets it.
-- The job's class (RCE_PRIORITY_*) says where: "interactive" on the consumer end of the
-- queue (the node takes it next), "normal" on the other end, "batch" onto the batch list,
-- which a node takes from only when its queue is empty; a batch job pushed while the queue is
-- empty also pushes "wake" (RCE_QUEUE_WAKE) there, for a slot that waits on the queue.
-- KEYS[1] rce:nodes, KEYS[2] rce:queue:<node>, KEYS[3] rce:batch:<node>; ARGV[1] <node>,
-- ARGV[2] the job JSON, ARGV[3] its class.
-- An asynchronous job also has KEYS[4] rce:job:<id>, its state, written with the push;
-- ARGV[4] its lifetime in s, ARGV[5] the language, ARGV[6] the output encoding, ARGV[7] the
-- unix ms it was queued, ARGV[8] its callback_url ('' if none), whose state is "waiting"
-- until the job ends (RCE_CALLBACK_*), ARGV[9] its owner, the name of the API key that
-- submitted it ('' with keys off: no owner field), which alone may read or cancel it.
-- Returns the length of the list it went on, or 0 if the node is no longer listed.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local list, length = KEYS[2], 0
if ARGV[3] == 'interactive' then
  length = redis.call('RPUSH', KEYS[2], ARGV[2])
elseif ARGV[3] == 'batch' then
  list = KEYS[3]
  length = redis.call('LPUSH', KEYS[3], ARGV[2])
  if redis.call('LLEN', KEYS[2]) == 0 then
    redis.call('LPUSH', KEYS[2], 'wake')
  end
else
  length = redis.call('LPUSH', KEYS[2], ARGV[2])
end
if KEYS[4] then
  redis.call('HSET', KEYS[4], 'state', 'queued', 'node', ARGV[1], 'queue', list,
             'job', ARGV[2], 'language', ARGV[5], 'output_encoding', ARGV[6],
             'enqueued_ms', ARGV[7])
  if ARGV[8] ~= '' then
    redis.call('HSET', KEYS[4], 'callback_url', ARGV[8], 'callback_state', 'waiting')
  end
  if ARGV[9] and ARGV[9] ~= '' then
    redis.call('HSET', KEYS[4], 'owner', ARGV[9])
  end
  redis.call('EXPIRE', KEYS[4], ARGV[4])
end
return length
