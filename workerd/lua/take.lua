#!lua flags=allow-oom
-- Taking the next job (slot.c), before a slot waits on its queue: the queue's consumer end
-- (interactive jobs are RPUSHed there, normal ones LPUSHed behind), else, if the slot may run
-- a batch job, the batch list's, so a batch job never runs while a job of a higher class
-- waits. Also how jobs are taken while Redis is at maxmemory, which refuses BLMOVE as a
-- command that may grow memory: moving a job costs none, and allow-oom lets this script do it.
-- KEYS[1] rce:queue:<me>, KEYS[2] rce:running:<me>, KEYS[3] rce:batch:<me>;
-- ARGV[1] 1 if the slot may take a batch job, else 0.
-- Returns {the job, 1 if it came from the batch list else 0}, or nil if there is none.
local job = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
if job then
  return {job, 0}
end
if ARGV[1] ~= '1' then
  return nil
end
job = redis.call('LMOVE', KEYS[3], KEYS[2], 'RIGHT', 'LEFT')
if job then
  return {job, 1}
end
return nil
