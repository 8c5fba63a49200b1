-- Re-queue jobs whose Celery message was lost. kombu's Redis transport takes a message off
-- the queue (BRPOP) and records it as unacknowledged in a second step: a worker killed in
-- between loses the message, and the job would wait QUEUED forever. A job still QUEUED
-- since before the cutoff whose message is neither in its queue nor unacknowledged gets
-- its kept copy pushed back (the worker's prerun refuses to run a job twice to the end).
-- KEYS[1] set of queued jobs (id -> queued at), KEYS[2] kombu's unacked hash
-- ARGV[1] cutoff (unix seconds), ARGV[2] most jobs to look at, ARGV[3] now
-- Returns how many messages were pushed back.
local requeued = 0
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(stale) do
  local job = NAME.job .. id
  local state = redis.call('HMGET', job, 'status', 'message', 'queue')
  if state[1] ~= 'QUEUED' or not state[2] then
    redis.call('ZREM', KEYS[1], id)  -- started, ended or expired meanwhile
  else
    local tag = cjson.decode(state[2])['properties']['delivery_tag']
    if not redis.call('LPOS', state[3], state[2]) and redis.call('HEXISTS', KEYS[2], tag) == 0 then
      redis.call('LPUSH', state[3], state[2])
      requeued = requeued + 1
    end
    redis.call('ZADD', KEYS[1], ARGV[3], id)  -- look again one cutoff later
  end
end
return requeued
