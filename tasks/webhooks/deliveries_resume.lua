-- Make webhook deliveries due now, with a fresh retry schedule: a redelivery (replay, the
-- same message id; also of a dead-lettered or delivered one), or the messages an endpoint
-- held while disabled (enable). A delivery being sent right now is left alone.
-- The delivery is due at its destination (tasks/webhooks/destinations.lua, prepended).
-- KEYS[1] dead-letter zset
-- ARGV[1] mode ("redeliver" | "enable"), ARGV[2] delivery or endpoint id
-- Returns for redeliver: "ok" | "missing" | "sending" | "endpoint_deleted" | "endpoint_disabled";
-- for enable: the number of deliveries resumed, or -1 when the endpoint does not exist.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local now_text = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
local mode, id = ARGV[1], ARGV[2]

local function resume(delivery_id)
  local key = NAME.delivery .. delivery_id
  redis.call('HSET', key, 'status', 'PENDING', 'round', '0', 'next_attempt_at', now_text)
  redis.call('PEXPIRE', key, math.max(redis.call('PTTL', key), 86400000))
  add_due(destination_of(key), delivery_id, now_text, now)
  redis.call('ZREM', KEYS[1], delivery_id)
end

if mode == 'enable' then
  local endpoint_key = NAME.endpoint .. id
  if redis.call('EXISTS', endpoint_key) == 0 then
    return -1
  end
  redis.call('HSET', endpoint_key, 'enabled', '1')
  redis.call('HDEL', endpoint_key, 'disabled_reason', 'disabled_at')
  local paused = NAME.paused .. id
  local resumed = 0
  for _, delivery_id in ipairs(redis.call('ZRANGE', paused, 0, -1)) do
    if redis.call('HGET', NAME.delivery .. delivery_id, 'status') == 'PAUSED' then
      resume(delivery_id)
      resumed = resumed + 1
    end
  end
  redis.call('DEL', paused)
  if resumed > 0 then
    redis.call('PUBLISH', NAME.wake, resumed)
  end
  return resumed
end

local key = NAME.delivery .. id
local status = redis.call('HGET', key, 'status')
if not status then
  return 'missing'
end
if status == 'SENDING' then
  return 'sending'
end
local endpoint_id = redis.call('HGET', key, 'endpoint_id')
if endpoint_id ~= '' then
  local enabled = redis.call('HGET', NAME.endpoint .. endpoint_id, 'enabled')
  if not enabled then
    return 'endpoint_deleted'
  end
  if enabled ~= '1' then
    return 'endpoint_disabled'
  end
  redis.call('ZREM', NAME.paused .. endpoint_id, id)
end
resume(id)
redis.call('PUBLISH', NAME.wake, 1)
return 'ok'
