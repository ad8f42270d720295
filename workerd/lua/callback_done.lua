-- What became of an attempt to deliver a job's callback (callback.c): delivered or failed for
-- good, it leaves rce:callbacks; to be retried, it is due again at ARGV[5]. The job's state
-- (if its result has not expired) shows where the callback stands, for GET /api/v1/jobs/<id>.
-- KEYS[1] rce:callbacks, KEYS[2] rce:job:<id>; ARGV[1] the job id, ARGV[2] the callback state
-- (RCE_CALLBACK_*), ARGV[3] attempts so far, ARGV[4] the last attempt's error ('' if none),
-- ARGV[5] when it is due again, unix ms (a retry only), ARGV[6..8] the state's field names:
-- its state, attempts and error (rce_protocol.h RCE_JOBSTATE_CALLBACK_*).
if ARGV[2] == 'retrying' then
  redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[6], ARGV[2], ARGV[7], ARGV[3], ARGV[8], ARGV[4])
end
return 1
