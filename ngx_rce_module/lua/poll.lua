-- GET /api/v1/jobs (ngx_rce_store.c): how asynchronous jobs are doing, one or many at once.
-- KEYS: for each job, rce:job:<id> then rce:result:<id>; ARGV[1] who asks: the name of its
-- API key, '' with keys off. A job is shown only to its owner (the key that submitted it,
-- none with keys off): to anyone else it is as unknown as one never submitted.
-- Returns one element per job: false when Redis knows no such job (never submitted, or its
-- result has expired, or not the asker's), else {state, node, output_encoding, enqueued_ms,
-- started_ms, language, result, callback_url, callback_state, callback_attempts,
-- callback_error} with false for what is not there (the result until the job ends, the
-- callback's fields of a job without one).
local answers = {}
for i = 1, #KEYS, 2 do
  local s = redis.call('HMGET', KEYS[i], 'state', 'node', 'output_encoding', 'enqueued_ms',
                       'started_ms', 'language', 'callback_url', 'callback_state',
                       'callback_attempts', 'callback_error', 'owner')
  if s[1] and (s[11] or '') == ARGV[1] then
    answers[#answers + 1] = {s[1], s[2], s[3], s[4], s[5], s[6], redis.call('GET', KEYS[i + 1]),
                             s[7], s[8], s[9], s[10]}
  else
    answers[#answers + 1] = false
  end
end
return answers
