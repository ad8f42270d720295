#!lua flags=allow-oom
-- A slot takes an asynchronous job (async.c), before it runs it. Synchronous jobs skip this.
-- A job whose state says done was answered already (by a peer that rescued it from this node
-- while it stalled): it is not run again. A job asked to stop (DELETE /api/v1/jobs/<id> found
-- it no longer queued) is not run but answered CANCELLED. Else its state, if it exists, says
-- running, here, since now, and drops the job JSON it kept to take the job out of its queue
-- (it is in no queue now).
-- KEYS[1] rce:job:<id>, KEYS[2] rce:cancel:<id>;
-- ARGV[1] <me>, ARGV[2] now, unix ms; ARGV[3] the job state's state field, ARGV[4] its running
-- state, ARGV[5] its done state, ARGV[6] its node field, ARGV[7] its started_ms field, ARGV[8]
-- its job field (rce_protocol.h RCE_JOBSTATE_*, RCE_STATE_*).
-- Returns 'done', 'cancelled' (both: do not run it), 'running' (state updated) or 'unknown' (no
-- state: the job came without one, or it expired; run it all the same).
-- allow-oom: a job already taken runs even when Redis is at maxmemory (HDEL frees more).
local hash = redis.call('TYPE', KEYS[1]).ok == 'hash'
if hash and redis.call('HGET', KEYS[1], ARGV[3]) == ARGV[5] then
  return 'done'
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return 'cancelled'
end
if not hash then
  return 'unknown'
end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4], ARGV[6], ARGV[1], ARGV[7], ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[8])
return 'running'
