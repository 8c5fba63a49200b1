-- Apply one status transition to a job record, atomically, and publish the new record (on
-- the job's channel and on its tenant's).
-- A terminal transition also creates the job's webhook deliveries, here and only here.
-- KEYS[1] job hash, KEYS[2] event channel
-- ARGV[1] new status, ARGV[2] "1" to count an attempt,
-- ARGV[3] n, then n arguments: field/value pairs to set; then counter updates in fours
-- (hincrby or hincrbyfloat, key, field, amount: tasks/metrics.py), made only when the
-- transition applies, so a refused late event counts nothing and the worker needs no
-- second round trip for its metrics
-- The webhook keys come from the NAME table (tasks/redis/keys.py), not from KEYS: a single
-- Redis, not a cluster, like Celery's Redis transport. Each delivery is due at its
-- destination (tasks/webhooks/destinations.lua, prepended).
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
local record = cjson.encode(redis.call('HGETALL', KEYS[1]))
redis.call('PUBLISH', KEYS[2], record)
-- And on the tenant's channel, for a live list of its jobs (GraphQL jobsUpdated).
redis.call('PUBLISH', NAME.tenant_events .. (job[2] or 'public'), record)

-- Webhooks: one delivery per (job, target, event). This branch runs at most once per job
-- (a terminal status is final), and the id is derived from (job, target, event), so a
-- duplicate signal or a racing worker can never make a second message.
local events = {SUCCEEDED = 'job.succeeded', FAILED = 'job.failed',
                CANCELLED = 'job.cancelled', EXPIRED = 'job.expired'}
local event = events[ARGV[1]]
local job_id = redis.call('HGET', KEYS[1], 'id')
if event and job_id then
  local t = redis.call('TIME')
  local now = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
  -- Deliveries live as long as the job record, and at least a day (to finish retrying).
  local ttl = math.max(redis.call('PTTL', KEYS[1]), 86400000)
  local jobs_list = NAME.job_deliveries .. job_id
  local tenant = redis.call('HGET', KEYS[1], 'tenant') or 'public'
  local due = 0
  local function create(target, endpoint_id, url, paused)
    local dest = tenant .. '|' .. (endpoint_id ~= '' and endpoint_id or origin_of(url))
    local id = 'msg_' .. string.sub(redis.sha1hex(job_id .. '|' .. target .. '|' .. event), 1, 32)
    local key = NAME.delivery .. id
    if redis.call('EXISTS', key) == 1 then
      return
    end
    redis.call('HSET', key, 'id', id, 'job_id', job_id, 'event', event,
      'endpoint_id', endpoint_id, 'url', url, 'status', paused and 'PAUSED' or 'PENDING',
      'attempts', '0', 'round', '0', 'lease', '0', 'created_at', now,
      'next_attempt_at', now, 'job', record, 'destination', dest)
    redis.call('PEXPIRE', key, ttl)
    redis.call('RPUSH', jobs_list, id)
    redis.call('PEXPIRE', jobs_list, ttl)
    if paused then
      -- Held until the endpoint is enabled; entries older than a delivery lives are gone.
      local held = NAME.paused .. endpoint_id
      redis.call('ZADD', held, now, id)
      redis.call('ZREMRANGEBYSCORE', held, '-inf', tonumber(t[1]) - ttl / 1000)
    else
      add_due(dest, id, now, tonumber(now))
      due = due + 1
    end
  end
  local callback = redis.call('HGET', KEYS[1], 'callback_url')
  if callback and callback ~= '' then
    create('callback', '', callback, false)
  end
  -- Only the job's own tenant's endpoints hear about it.
  for _, endpoint_id in ipairs(redis.call('SMEMBERS', NAME.endpoints .. tenant)) do
    local e = redis.call('HMGET', NAME.endpoint .. endpoint_id, 'url', 'events', 'enabled')
    if e[1] and (e[2] == '*' or string.find(e[2], ',' .. event .. ',', 1, true)) then
      create('endpoint:' .. endpoint_id, endpoint_id, e[1], e[3] ~= '1')
    end
  end
  if due > 0 then
    redis.call('PUBLISH', NAME.wake, due)
  end
end
return {1, current, attempts}
