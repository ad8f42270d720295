#!lua flags=allow-oom
-- What became of an attempt to deliver a job's callback (callback.c): delivered or failed for
-- good, it leaves rce:callbacks; to be retried, it is due again ARGV[5] ms from now (Redis's
-- clock). Only the sender that still holds the entry (its score is the token callback_take.lua
-- gave) records anything. The job's state (if its result has not expired) shows where the
-- callback stands, for GET /api/v1/jobs/<id>.
-- allow-oom: at maxmemory an outcome is still recorded (the hash fields are small).
-- KEYS[1] rce:callbacks, KEYS[2] rce:job:<id>; ARGV[1] the job id, ARGV[2] the callback state
-- (RCE_CALLBACK_*), ARGV[3] attempts so far, ARGV[4] the last attempt's error ('' if none),
-- ARGV[5] the pause before the next attempt, ms (a retry only), ARGV[6..8] the state's field
-- names: its state, attempts and error (rce_protocol.h RCE_JOBSTATE_CALLBACK_*), ARGV[9] the
-- token.
-- Returns 1 if recorded, 0 if the entry was no longer the caller's.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[9]) then
  return 0
end
if ARGV[2] == 'retrying' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[6], ARGV[2], ARGV[7], ARGV[3], ARGV[8], ARGV[4])
end
return 1
