-- Rescue, step 2 of 3 (cluster.c), for each job step 1 moved: the first rescue of a job puts
-- it on our queue to run again; a job some node already died running stays in our running
-- list, to be answered IE.
-- KEYS[1] rce:rescued:<id>, KEYS[2] rce:running:<me>, KEYS[3] rce:queue:<me>;
-- ARGV[1] the job, ARGV[2] <dead>, ARGV[3] the marker's TTL in seconds.
-- Returns 1 if requeued, 0 if it stays.
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'EX', ARGV[3]) then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  redis.call('RPUSH', KEYS[3], ARGV[1])
  return 1
end
return 0
