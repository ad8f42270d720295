#!lua flags=allow-oom
-- Taking a job while Redis is at maxmemory (slot.c): Redis refuses BLMOVE then, as a command
-- that may grow memory, but a job already queued must still run and be answered, not wait
-- out its deadline. Moving it costs no memory; allow-oom lets this script do it.
-- KEYS[1] rce:queue:<me>, KEYS[2] rce:running:<me>.
-- Returns the job, or nil if the queue is empty.
return redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
