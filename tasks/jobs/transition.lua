-- Apply one status transition to a job record, atomically, and publish the new record (on
-- the job's channel and on its tenant's).
-- A terminal transition also creates the job's webhook deliveries, here and only here.
-- KEYS[1] job hash, KEYS[2] event channel
-- ARGV[1] new status, ARGV[2] "1" to count an attempt, ARGV[3] the worker run a running
-- job's own report comes from ('' for any other transition): refused once another run owns
-- the job or it was handed back from a lost worker (tasks/jobs/worker_lost.lua),
-- ARGV[4] n, then n arguments: field/value pairs to set (a `worker_run` field enters the job
-- in that run's set of running jobs); then counter updates in fours
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
local owner = redis.call('HGET', KEYS[1], 'worker_run')
if current == 'SUCCEEDED' or current == 'FAILED' or current == 'CANCELLED' or current == 'EXPIRED'
    or (ARGV[3] ~= '' and owner and owner ~= ARGV[3]) then
  return {0, current, tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')}
end
-- The listing indexes follow the status (job_index.lua, prepended).
set_status(KEYS[1], current, ARGV[1])
if ARGV[1] == 'STARTED' then
  redis.call('HDEL', KEYS[1], 'progress')  -- a new run reports its own (progress.lua)
end
local id = redis.call('HGET', KEYS[1], 'id') or ''
if current == 'STARTED' and owner then
  -- No longer running on that worker run.
  redis.call('SREM', NAME.worker_jobs .. owner, id)
  redis.call('HDEL', KEYS[1], 'worker_run', 'delivery_tag')
end
if current == 'QUEUED' then
  -- Out of the queue: the copy of its message kept for recovery (tasks/jobs/recover.lua) goes.
  redis.call('HDEL', KEYS[1], 'message', 'queue')
  redis.call('ZREM', NAME.queued, id)
end
local counters_from = 5 + tonumber(ARGV[4])
for i = 5, counters_from - 1, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  if ARGV[i] == 'worker_run' then
    -- Running on this run now; a run known before its first heartbeat is still watched.
    redis.call('SADD', NAME.worker_jobs .. ARGV[i + 1], id)
    redis.call('ZADD', NAME.worker_runs, 'NX', redis.call('TIME')[1], ARGV[i + 1])
  end
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
