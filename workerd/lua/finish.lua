#!lua flags=allow-oom
-- Answering a job (answer.c): the result is published and kept only if the job is still ours.
-- A peer that declared this node dead moved its running jobs away (rescue_claim.lua) and
-- moved its epoch on; such a job runs again there, and this late result must not race that
-- run's. A job missing from running while the epoch is unchanged (or gone: Redis lost its
-- data) was taken over by nobody, and is answered.
-- KEYS[1] rce:running:<me>, KEYS[2] rce:result:<id>, KEYS[3] rce:epoch:<me>, and for an
-- asynchronous job only, KEYS[4] rce:job:<id>, KEYS[5] rce:callbacks;
-- ARGV[1] the job, ARGV[2] the result JSON, ARGV[3] the result's TTL in s, ARGV[4] the reply
-- channel, ARGV[5] the epoch the job was taken under; with KEYS[4], ARGV[6] the job state's
-- state field, ARGV[7] its done state, ARGV[8] its job field, ARGV[9] its callback_url field,
-- ARGV[10] its callback_state field, ARGV[11] the pending callback state (rce_protocol.h
-- RCE_JOBSTATE_*, RCE_CALLBACK_*), ARGV[12] the job id, ARGV[13] now, unix ms.
-- Returns 1 if answered, 0 if dropped (fenced: nothing is touched).
-- An asynchronous job's state, if it still exists, says done and lives as long as its result;
-- the job JSON it kept (to take the job out of its queue) goes. A job with a callback_url is
-- due for its callback now, in the same step: no restart can lose it.
-- allow-oom: a job already taken is answered even when Redis is at maxmemory.
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  local current = redis.call('GET', KEYS[3])
  if current and tonumber(current) ~= tonumber(ARGV[5]) then
    return 0
  end
end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
if KEYS[4] and redis.call('TYPE', KEYS[4]).ok == 'hash' then
  redis.call('HSET', KEYS[4], ARGV[6], ARGV[7])
  redis.call('HDEL', KEYS[4], ARGV[8])
  redis.call('EXPIRE', KEYS[4], ARGV[3])
  if redis.call('HEXISTS', KEYS[4], ARGV[9]) == 1 then
    redis.call('HSET', KEYS[4], ARGV[10], ARGV[11])
    redis.call('ZADD', KEYS[5], ARGV[13], ARGV[12])
  end
end
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1
