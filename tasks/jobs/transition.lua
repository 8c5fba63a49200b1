-- Apply one status transition to a job record, atomically, and publish the new record.
-- A terminal transition also creates the job's webhook deliveries, here and only here.
-- KEYS[1] job hash, KEYS[2] event channel
-- ARGV[1] new status, ARGV[2] "1" to count an attempt,
-- ARGV[3] n, then n arguments: field/value pairs to set; then counter updates in fours
-- (hincrby or hincrbyfloat, key, field, amount: tasks/metrics.py), made only when the
-- transition applies, so a refused late event counts nothing and the worker needs no
-- second round trip for its metrics
-- The webhook keys come from the NAME table (tasks/redis/keys.py), not from KEYS: a single
-- Redis, not a cluster, like Celery's Redis transport. The deliveries are made by
-- tasks/webhooks/job_deliveries.lua, each due at its destination (destinations.lua), both
-- prepended; the event is published by job_events.lua, prepended.
-- The job's listing indexes move with its status (tasks/jobs/job_index.lua).
-- Returns {applied (0/1), status before, attempts}. A terminal status is never overwritten, and a
-- missing record (expired or never created) is never re-created by a late event.
local current = redis.call('HGET', KEYS[1], 'status')
if not current then
  return {0, '', 0}
end
if current == 'SUCCEEDED' or current == 'FAILED' or current == 'CANCELLED' or current == 'EXPIRED' then
  return {0, current, tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')}
end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
if ARGV[1] == 'STARTED' then
  redis.call('HDEL', KEYS[1], 'progress')  -- a new run reports its own (progress.lua)
end
-- The listing indexes follow the status (job_index.lua, prepended). Every record lives as
-- long from its creation, so entries created before (created_at - its time left) expired.
local job = redis.call('HMGET', KEYS[1], 'id', 'tenant', 'function', 'created_at')
if job[1] and job[3] and job[4] then
  local left = redis.call('PTTL', KEYS[1])
  local cutoff = left >= 0 and tonumber(job[4]) - left / 1000 or nil
  reindex_job(job[2] or 'public', current, ARGV[1], job[3], job[4], job[1], cutoff)
end
if current == 'QUEUED' then
  -- Out of the queue: the copy of its message kept for recovery (tasks/jobs/recover.lua) goes.
  redis.call('HDEL', KEYS[1], 'message', 'queue')
  redis.call('ZREM', NAME.queued, redis.call('HGET', KEYS[1], 'id') or '')
end
local counters_from = 4 + tonumber(ARGV[3])
for i = 4, counters_from - 1, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
for i = counters_from, #ARGV, 4 do
  if ARGV[i] == 'hincrby' or ARGV[i] == 'hincrbyfloat' then
    redis.call(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  end
end
local attempts
if ARGV[2] == '1' then
  attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
else
  attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
end
local record = publish_job(KEYS[1], KEYS[2])  -- job_events.lua, prepended
local events = {SUCCEEDED = 'job.succeeded', FAILED = 'job.failed',
                CANCELLED = 'job.cancelled', EXPIRED = 'job.expired'}
local event = events[ARGV[1]]
if event then
  -- Runs at most once per job: a terminal status is final (job_deliveries.lua, prepended).
  create_job_deliveries(KEYS[1], record, event, event, true)
end
return {1, current, attempts}
