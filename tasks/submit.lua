-- Admit and create one job in one round trip: idempotent replay, rate limit, queue depth,
-- then the record, its index entry and (Redis broker) its Celery message.
-- KEYS[1] job hash, KEYS[2] tenant's job index, KEYS[3] broker queue list,
-- KEYS[4] idempotency key, KEYS[5] rate bucket
-- ARGV[1] record ttl, ARGV[2] now, ARGV[3] message ('' = published elsewhere),
-- ARGV[4] max queue depth (0 = off), ARGV[5] rate/s (0 = off), ARGV[6] burst,
-- ARGV[7] request fingerprint ('' = no idempotency key), ARGV[8] idempotency ttl,
-- ARGV[9] job id, ARGV[10..] record field/value pairs
-- Returns {outcome, value}: created/job id, replay/job id, conflict/job id,
-- rate_limited/seconds to wait, queue_full/depth.
local now = tonumber(ARGV[2])
if ARGV[7] ~= '' then
  local seen = redis.call('GET', KEYS[4])
  if seen then
    local sep = string.find(seen, '|', 1, true)
    local fingerprint, job_id = string.sub(seen, 1, sep - 1), string.sub(seen, sep + 1)
    if fingerprint == ARGV[7] then
      return {'replay', job_id}
    end
    return {'conflict', job_id}
  end
end
local wait = take_token(KEYS[5], now, tonumber(ARGV[5]), tonumber(ARGV[6]))
if wait > 0 then
  return {'rate_limited', tostring(wait)}
end
local max_depth = tonumber(ARGV[4])
if max_depth > 0 and ARGV[3] ~= '' then
  local depth = redis.call('LLEN', KEYS[3])
  if depth >= max_depth then
    return {'queue_full', tostring(depth)}
  end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 10))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('ZADD', KEYS[2], now, ARGV[9])
if ARGV[3] ~= '' then
  redis.call('LPUSH', KEYS[3], ARGV[3])
end
if ARGV[7] ~= '' then
  redis.call('SET', KEYS[4], ARGV[7] .. '|' .. ARGV[9], 'EX', tonumber(ARGV[8]))
end
return {'created', ARGV[9]}
