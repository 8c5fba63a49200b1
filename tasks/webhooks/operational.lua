-- Operational events: a library prepended (after destinations.lua and failed_index.lua) to
-- every script that disables an endpoint or dead-letters a message. `disable_endpoint` is
-- THE way an endpoint is disabled by the system (a 410 answer; the circuit breaker giving
-- up), so `endpoint.disabled` is emitted from one place, once per disable.
--
-- An event is a normal delivery (signed, retried, isolated like any other) to each enabled
-- endpoint of the tenant that subscribed to it BY NAME: an endpoint registered for "every
-- event" gets job events only. Its hash has no job snapshot but `data` (the event's data,
-- JSON); the dispatcher renders {"type", "timestamp", "data"} from it (tasks/webhooks/model.py).
--
-- No endless chains: an operational event that is dead-lettered emits nothing; an endpoint
-- is disabled only while enabled, and the event about it goes to the OTHER enabled
-- endpoints, so a chain of disables (A's 410 disables A, B answers that event with 410 ...)
-- disables a different endpoint at every link and ends when none is left enabled.

local OPERATIONAL_EVENTS = {['endpoint.disabled'] = true, ['message.attempt.exhausted'] = true}

-- Send `event` with `data` (a Lua table) to `tenant`'s enabled endpoints subscribed to it,
-- except `except_endpoint`. `cause_key`: the delivery the event is about (its job id and
-- lifetime are the event's). Returns how many deliveries it made.
local function emit_operational(tenant, event, data, cause_key, except_endpoint, now, now_text)
  local job_id = redis.call('HGET', cause_key, 'job_id') or ''
  local ttl = math.max(redis.call('PTTL', cause_key), 86400000)
  local body = cjson.encode(data)
  local made = 0
  for _, endpoint_id in ipairs(redis.call('SMEMBERS', NAME.endpoints .. tenant)) do
    local e = redis.call('HMGET', NAME.endpoint .. endpoint_id, 'url', 'events', 'enabled')
    if endpoint_id ~= except_endpoint and e[1] and e[3] == '1' and e[2]
        and string.find(e[2], ',' .. event .. ',', 1, true) then
      local id = 'msg_' .. string.sub(redis.sha1hex(
        event .. '|' .. cause_key .. '|' .. now_text .. '|' .. endpoint_id), 1, 32)
      local key = NAME.delivery .. id
      if redis.call('EXISTS', key) == 0 then
        local dest = tenant .. '|' .. endpoint_id
        redis.call('HSET', key, 'id', id, 'job_id', job_id, 'event', event,
          'endpoint_id', endpoint_id, 'url', e[1], 'status', 'PENDING', 'attempts', '0',
          'round', '0', 'lease', '0', 'created_at', now_text, 'next_attempt_at', now_text,
          'data', body, 'destination', dest)
        redis.call('PEXPIRE', key, ttl)
        add_due(dest, id, now_text, now)
        made = made + 1
      end
    end
  end
  if made > 0 then
    redis.call('PUBLISH', NAME.wake, made)
  end
  return made
end

local function json_or_null(value)
  if value == nil or value == false or value == '' then
    return cjson.null
  end
  return value
end

-- Disable endpoint `endpoint_id` for `reason` (text shown to the tenant) and emit
-- `endpoint.disabled`. `cause_id`: the message whose attempt made it so; `status_code`: that
-- attempt's HTTP status (nil: no answer). Returns true when it was enabled and is now
-- disabled; false when it was already disabled or does not exist (nothing emitted).
local function disable_endpoint(endpoint_id, reason, cause_id, status_code, now, now_text)
  local endpoint_key = NAME.endpoint .. endpoint_id
  local e = redis.call('HMGET', endpoint_key, 'enabled', 'tenant', 'url')
  if e[1] ~= '1' then
    return false
  end
  redis.call('HSET', endpoint_key, 'enabled', '0', 'disabled_at', now_text,
    'disabled_reason', reason)
  local cause_key = NAME.delivery .. cause_id
  emit_operational(e[2] or 'public', 'endpoint.disabled', {
    endpoint_id = endpoint_id, url = e[3], reason = reason, message_id = cause_id,
    job_id = json_or_null(redis.call('HGET', cause_key, 'job_id')),
    last_status_code = json_or_null(status_code),
  }, cause_key, endpoint_id, now, now_text)
  return true
end

-- The HTTP status of an attempt's log entry (JSON text), nil when no answer came.
local function attempt_status_code(attempt)
  local ok, logged = pcall(cjson.decode, attempt or '')
  if ok and type(logged) == 'table' and type(logged.status_code) == 'number' then
    return logged.status_code
  end
  return nil
end

-- Delivery `id` (hash `key`) was just dead-lettered after `attempt` (its log entry, JSON
-- text): emit `message.attempt.exhausted` to its tenant's subscribed endpoints (the failing
-- one too: it may fail only some messages). Nothing for an operational event itself.
local function message_exhausted(key, id, attempt, now, now_text)
  local f = redis.call('HMGET', key, 'event', 'endpoint_id', 'job_id', 'attempts',
    'last_error')
  if not f[1] or OPERATIONAL_EVENTS[f[1]] then
    return 0
  end
  local dest = destination_of(key)
  return emit_operational(tenant_of(dest), 'message.attempt.exhausted', {
    message_id = id, event = f[1], endpoint_id = json_or_null(f[2]), job_id = f[3],
    attempts = tonumber(f[4] or '0'),
    last_status_code = json_or_null(attempt_status_code(attempt)),
    reason = json_or_null(f[5]),
  }, key, '', now, now_text)
end
