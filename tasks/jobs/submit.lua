-- Admit and create jobs in one round trip (concurrent submits share one call; see
-- tasks/batching.py). For each job, in order: idempotent replay, rate limit, queue depth,
-- then the record, its index entries (main, status, function: job_index.lua, prepended) and
-- (Redis broker) its Celery message.
-- KEYS: 6 per job: job hash, tenant's job index, broker queue list, idempotency key,
--       rate bucket, the set of queued jobs (for recovery: tasks/jobs/recover.lua)
-- ARGV[1]: how many jobs; then per job: the count of its arguments, then
--   record ttl, now, message ('' = published elsewhere), max queue depth (0 = off),
--   rate/s (0 = off), burst, request fingerprint ('' = no idempotency key),
--   idempotency ttl, job id, record field/value pairs...
-- Returns per job {outcome, value}, flattened: created/job id, replay/job id,
-- conflict/job id, rate_limited/seconds to wait, queue_full/depth.
-- The indexes this call has trimmed: each once per call, not once per job of the batch.
local trimmed = {}
local function trim(key, cutoff)
  if not trimmed[key] then
    trimmed[key] = true
    redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
  end
end

local function submit(k, a)
  local now = tonumber(a[2])
  if a[7] ~= '' then
    local seen = redis.call('GET', k[4])
    if seen then
      local sep = string.find(seen, '|', 1, true)
      local fingerprint, job_id = string.sub(seen, 1, sep - 1), string.sub(seen, sep + 1)
      if fingerprint == a[7] then
        -- Written again as it is: a write of this call, so a WAIT after it also confirms
        -- the replicas have the job it names (REDIS_MIN_REPLICA_ACKS).
        redis.call('SET', k[4], seen, 'KEEPTTL')
        return {'replay', job_id}
      end
      return {'conflict', job_id}
    end
  end
  local wait = take_token(k[5], now, tonumber(a[5]), tonumber(a[6]))
  if wait > 0 then
    return {'rate_limited', tostring(wait)}
  end
  local max_depth = tonumber(a[4])
  if max_depth > 0 and a[3] ~= '' then
    local depth = redis.call('LLEN', k[3])
    if depth >= max_depth then
      return {'queue_full', tostring(depth)}
    end
  end
  local fields = {unpack(a, 10)}
  local job = {}  -- the record's fields by name (Redis calls cost more than this loop)
  for i = 1, #fields - 1, 2 do
    job[fields[i]] = fields[i + 1]
  end
  if a[3] ~= '' then
    -- A copy of the message while the job waits: a worker killed between taking it off
    -- the queue and recording it as unacknowledged would otherwise lose it for good.
    for _, v in ipairs({'message', a[3], 'queue', k[3]}) do
      fields[#fields + 1] = v
    end
  end
  redis.call('HSET', k[1], unpack(fields))
  redis.call('EXPIRE', k[1], tonumber(a[1]))
  -- Scored by the creation time as written (a[2]), as transition.lua re-scores from the record:
  -- a Lua number would keep only 14 digits.
  local tenant = job.tenant or 'public'
  redis.call('ZADD', k[2], a[2], a[9])
  index_job(tenant, job.status, job['function'], a[2], a[9])
  -- Entries of records that expired leave the indexes every job is in here (amortized: each
  -- once); the status indexes shed theirs in transition.lua, and any index when listed.
  local cutoff = '(' .. (now - tonumber(a[1]))
  trim(k[2], cutoff)
  trim(NAME.job_index .. tenant .. NAME.function_index .. job['function'], cutoff)
  if a[3] ~= '' then
    redis.call('LPUSH', k[3], a[3])
    redis.call('ZADD', k[6], now, a[9])
  end
  if a[7] ~= '' then
    redis.call('SET', k[4], a[7] .. '|' .. a[9], 'EX', tonumber(a[8]))
  end
  return {'created', a[9]}
end

local replies = {}
local at = 2
for job = 0, tonumber(ARGV[1]) - 1 do
  local count = tonumber(ARGV[at])
  local args = {unpack(ARGV, at + 1, at + count)}
  local keys = {KEYS[job * 6 + 1], KEYS[job * 6 + 2], KEYS[job * 6 + 3], KEYS[job * 6 + 4],
                KEYS[job * 6 + 5], KEYS[job * 6 + 6]}
  local reply = submit(keys, args)
  replies[#replies + 1] = reply[1]
  replies[#replies + 1] = reply[2]
  at = at + count + 1
end
return replies
