-- DELETE /api/v1/jobs/<id> (ngx_rce_store.c). A job still in its queue is taken out and ends
-- CANCELLED here; one a node has taken is flagged, and that node stops it and answers it
-- CANCELLED (workerd). A finished job is left as it is.
-- KEYS[1] rce:job:<id>, KEYS[2] rce:result:<id>, KEYS[3] rce:cancel:<id>, KEYS[4]
-- rce:callbacks; ARGV[1] the job id, ARGV[2] the result's lifetime in s, ARGV[3] the channel
-- of asynchronous results (rce:done), ARGV[4] now, unix ms: a job with a callback_url
-- cancelled in its queue is due for its callback now, as one that ended on a node is;
-- ARGV[5] who asks: the name of its API key, '' with keys off. Only the job's owner may
-- cancel it: to anyone else it is unknown.
-- Returns {0}: no such job (or not the asker's); {1, result}: it had ended; {2, result}:
-- cancelled in its queue; {3, output_encoding}: a node has it and is asked to stop it.
local s = redis.call('HMGET', KEYS[1], 'state', 'queue', 'job', 'language', 'output_encoding',
                     'owner')
if not s[1] or (s[6] or '') ~= ARGV[5] then
  return {0}
end
local result = redis.call('GET', KEYS[2])
if result then
  return {1, result}
end
if s[1] == 'queued' and s[2] and s[3] and redis.call('LREM', s[2], 1, s[3]) == 1 then
  result = cjson.encode({id = ARGV[1], language = s[4], status = 'CANCELLED',
                         reason = 'cancelled before it started', stdout = '', stderr = '',
                         truncated = false})
  redis.call('SET', KEYS[2], result, 'EX', ARGV[2])
  redis.call('HSET', KEYS[1], 'state', 'done')
  redis.call('HDEL', KEYS[1], 'job')
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  if redis.call('HEXISTS', KEYS[1], 'callback_url') == 1 then
    redis.call('HSET', KEYS[1], 'callback_state', 'pending')
    redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
  end
  redis.call('PUBLISH', ARGV[3], result)
  return {2, result}
end
redis.call('SET', KEYS[3], '1', 'EX', ARGV[2])
return {3, s[5]}
