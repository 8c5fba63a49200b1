-- Make webhook deliveries due now, with a fresh retry schedule: a redelivery (replay, the
-- same message id; also of a dead-lettered or delivered one), the messages an endpoint
-- held while disabled (enable), or an endpoint's failed messages since a time (recover:
-- each one through the same redelivery). A delivery being sent right now is left alone.
-- The delivery is due at its destination (tasks/webhooks/destinations.lua, prepended) and
-- leaves the dead-letter index (failed_index.lua, prepended).
-- KEYS[1] dead-letter zset
-- ARGV[1] mode ("redeliver" | "enable" | "recover"), ARGV[2] delivery or endpoint id;
-- for recover also ARGV[3] the tenant, ARGV[4] since and ARGV[5] until (scores: creation
-- times, inclusive), ARGV[6] the score and ARGV[7] the id of the last message a previous
-- call looked at ("" to start at since), ARGV[8] most messages to look at.
-- Returns for redeliver: "ok" | "missing" | "sending" | "endpoint_deleted" | "endpoint_disabled";
-- for enable: the number of deliveries resumed, or -1 when the endpoint does not exist;
-- for recover: JSON {"result": "ok" | "missing" | "disabled", "resumed", "pending" (already
-- due, left as is), "sending" (in flight), "next": [id, score] to continue from, or absent}.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local now_text = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
local mode, id = ARGV[1], ARGV[2]

local function resume(delivery_id)
  local key = NAME.delivery .. delivery_id
  redis.call('HSET', key, 'status', 'PENDING', 'round', '0', 'next_attempt_at', now_text)
  redis.call('PEXPIRE', key, math.max(redis.call('PTTL', key), 86400000))
  local dest = destination_of(key)
  add_due(dest, delivery_id, now_text, now)
  redis.call('ZREM', KEYS[1], delivery_id)
  index_outcome(key, delivery_id, dest, nil)
end

-- One message, due now (the caller publishes the wake-up).
local function redeliver(delivery_id)
  local key = NAME.delivery .. delivery_id
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
    redis.call('ZREM', NAME.paused .. endpoint_id, delivery_id)
  end
  resume(delivery_id)
  return 'ok'
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

if mode == 'recover' then
  local tenant, since, upto = ARGV[3], ARGV[4], ARGV[5]
  local after_score, after_id, most = ARGV[6], ARGV[7], tonumber(ARGV[8])
  local e = redis.call('HMGET', NAME.endpoint .. id, 'enabled', 'tenant')
  if not e[1] or (e[2] or 'public') ~= tenant then
    return cjson.encode({result = 'missing'})
  end
  if e[1] ~= '1' then
    return cjson.encode({result = 'disabled'})
  end
  -- The endpoint's failed messages in (score, id) order from the cursor: those at the
  -- cursor's own score after its id, then the later ones.
  local index = NAME.failed_dest .. tenant .. '|' .. id
  local found, from = {}, since
  if after_score ~= '' then
    local ties = redis.call('ZRANGE', index, after_score, after_score, 'BYSCORE', 'WITHSCORES')
    for i = 1, #ties, 2 do
      if ties[i] > after_id then
        found[#found + 1] = {ties[i], ties[i + 1]}
      end
    end
    from = '(' .. after_score
  end
  if #found < most then
    local rest = redis.call('ZRANGE', index, from, upto, 'BYSCORE', 'LIMIT', 0,
      most - #found, 'WITHSCORES')
    for i = 1, #rest, 2 do
      found[#found + 1] = {rest[i], rest[i + 1]}
    end
  end
  local answer = {result = 'ok', resumed = 0, pending = 0, sending = 0}
  for _, entry in ipairs(found) do
    local delivery_id = entry[1]
    local key = NAME.delivery .. delivery_id
    local f = redis.call('HMGET', key, 'status', 'next_attempt_at')
    if not f[1] then
      redis.call('ZREM', index, delivery_id)  -- expired
    elseif f[1] == 'SUCCEEDED' then
      index_outcome(key, delivery_id, nil, nil)
    elseif f[1] == 'SENDING' then
      answer.sending = answer.sending + 1
    elseif f[1] == 'PENDING' and tonumber(f[2] or '0') <= now then
      answer.pending = answer.pending + 1  -- already due: resent once, not twice
    elseif redeliver(delivery_id) == 'ok' then
      answer.resumed = answer.resumed + 1
    end
  end
  if answer.resumed > 0 then
    redis.call('PUBLISH', NAME.wake, answer.resumed)
  end
  if #found >= most then
    answer.next = found[#found]
  end
  return cjson.encode(answer)
end

local result = redeliver(id)
if result == 'ok' then
  redis.call('PUBLISH', NAME.wake, 1)
end
return result
