-- The webhook deliveries of one job event: a library prepended (after destinations.lua) to
-- transition.lua, for a job's end, and progress.lua, for job.progress.
-- One delivery per (job, target, id_key): the id is derived from them, so a duplicate
-- signal or a racing worker can never make a second message. `id_key` is the event, or for
-- a progress report the event and the report's number (one message per report).
-- `terminal`: the job's end: its callback URL gets one too, so does an endpoint of every
-- event ('*'), and a disabled endpoint's is held (PAUSED) until it is enabled. Otherwise
-- (job.progress) only the enabled endpoints that name the event: a stale report held for
-- days helps nobody, and '*' stays "every end of a job", as it was.
-- Only the job's own tenant's endpoints hear about it. Wakes the dispatchers when any is due.
local function create_job_deliveries(job_key, record, event, id_key, terminal)
  local job_id = redis.call('HGET', job_key, 'id')
  if not job_id then
    return
  end
  local t = redis.call('TIME')
  local now = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
  -- Deliveries live as long as the job record, and at least a day (to finish retrying).
  local ttl = math.max(redis.call('PTTL', job_key), 86400000)
  local jobs_list = NAME.job_deliveries .. job_id
  local tenant = redis.call('HGET', job_key, 'tenant') or 'public'
  local due = 0
  local function create(target, endpoint_id, url, paused)
    local dest = tenant .. '|' .. (endpoint_id ~= '' and endpoint_id or origin_of(url))
    local id = 'msg_' .. string.sub(redis.sha1hex(job_id .. '|' .. target .. '|' .. id_key), 1, 32)
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
  local callback = terminal and redis.call('HGET', job_key, 'callback_url')
  if callback and callback ~= '' then
    create('callback', '', callback, false)
  end
  for _, endpoint_id in ipairs(redis.call('SMEMBERS', NAME.endpoints .. tenant)) do
    local e = redis.call('HMGET', NAME.endpoint .. endpoint_id, 'url', 'events', 'enabled')
    local events = e[2] or '*'  -- as WebhookEndpoint.from_fields reads a missing field
    local named = string.find(events, ',' .. event .. ',', 1, true)
    if e[1] and (named or (terminal and events == '*')) and (terminal or e[3] == '1') then
      create('endpoint:' .. endpoint_id, endpoint_id, e[1], e[3] ~= '1')
    end
  end
  if due > 0 then
    redis.call('PUBLISH', NAME.wake, due)
  end
end
