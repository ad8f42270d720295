-- An idle node takes queued jobs of other nodes (cluster.c): from the consumer end of each
-- victim's queue, while the job is in one of our languages, onto the consumer end of ours.
-- KEYS[1] rce:queue:<me>, KEYS[2..] rce:queue:<other> for every other listed node;
-- ARGV[1] the job field naming its language, ARGV[2] how many at most, ARGV[3..] our languages.
-- Returns how many it took (0 at once if our own queue is not empty).
if redis.call('LLEN', KEYS[1]) > 0 then
  return 0
end
local langs = {}
for i = 3, #ARGV do
  langs[ARGV[i]] = true
end
local max, taken = tonumber(ARGV[2]), 0
for i = 2, #KEYS do
  while taken < max do
    local job = redis.call('LINDEX', KEYS[i], -1)
    if not job then break end
    -- a batch job's wake (RCE_QUEUE_WAKE) waiting there: that node's slots are busy; drop it
    while job == 'wake' do
      redis.call('RPOP', KEYS[i])
      job = redis.call('LINDEX', KEYS[i], -1)
    end
    if not job then break end
    local ok, j = pcall(cjson.decode, job)
    if not (ok and type(j) == 'table' and langs[j[ARGV[1]]]) then break end
    redis.call('RPOP', KEYS[i])
    redis.call('RPUSH', KEYS[1], job)
    taken = taken + 1
  end
end
return taken
