#!lua flags=allow-oom
-- Answering a job (answer.c): the result is published and kept only if the job is still ours.
-- A peer that declared this node dead moved its running jobs away (rescue_claim.lua) and
-- moved its epoch on; such a job runs again there, and this late result must not race that
-- run's. A job missing from running while the epoch is unchanged (or gone: Redis lost its
-- data) was taken over by nobody, and is answered.
-- KEYS[1] rce:running:<me>, KEYS[2] rce:result:<id>, KEYS[3] rce:epoch:<me>;
-- ARGV[1] the job, ARGV[2] the result JSON, ARGV[3] the result's TTL in s, ARGV[4] the reply
-- channel, ARGV[5] the epoch the job was taken under.
-- Returns 1 if answered, 0 if dropped (fenced).
-- allow-oom: a job already taken is answered even when Redis is at maxmemory.
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  local current = redis.call('GET', KEYS[3])
  if current and tonumber(current) ~= tonumber(ARGV[5]) then
    return 0
  end
end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1
