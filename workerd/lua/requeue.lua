-- Puts one job of ours back from running on the consumer end of our queue, if it is still
-- in running (the reconcile, housekeeper.c).
-- KEYS[1] rce:running:<me>, KEYS[2] rce:queue:<me>; ARGV[1] the job.
-- Returns 1 if moved, 0 if it was not there.
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
