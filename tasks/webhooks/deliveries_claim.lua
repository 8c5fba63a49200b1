-- Claim due webhook deliveries for one dispatcher, atomically: each claimed delivery moves
-- from the due set to the in-flight set with a lease deadline, so no two dispatchers ever
-- send the same attempt. A lease that ran out (its dispatcher died mid-attempt) makes the
-- delivery due again. Deliveries of a deleted endpoint are dead-lettered, those of a
-- disabled one paused, without an attempt. All times are Redis' clock.
-- KEYS[1] due zset, KEYS[2] in-flight zset, KEYS[3] dead-letter zset
-- ARGV[1] most to claim, ARGV[2] lease seconds
-- Returns {seconds until the next due delivery or "-1", a JSON array of the claimed
-- deliveries: {"token", "delivery": {its hash}, "endpoint": {its secrets}}}. One JSON string
-- rather than nested replies: it is parsed in C (orjson), not field by field in Python.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local now_text = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))

local lost = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_text, 'LIMIT', 0, 100)
for _, id in ipairs(lost) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[1], now_text, id)
end

local deadline = string.format('%.6f', now + tonumber(ARGV[2]))
local claimed = {}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_text, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local key = NAME.delivery .. id
  local endpoint_id = redis.call('HGET', key, 'endpoint_id')
  if endpoint_id then  -- else the delivery has expired: forget it
    local endpoint = nil
    local send = true
    if endpoint_id ~= '' then
      local endpoint_key = NAME.endpoint .. endpoint_id
      local e = redis.call('HMGET', endpoint_key, 'secret', 'previous_secret',
        'previous_secret_until', 'enabled')
      endpoint = {secret = e[1], previous_secret = e[2] or '', previous_secret_until = e[3] or ''}
      if not e[1] then
        redis.call('HSET', key, 'status', 'DEAD_LETTERED', 'last_error', 'endpoint_deleted')
        redis.call('ZADD', KEYS[3], now_text, id)
        send = false
      elseif e[4] ~= '1' then
        redis.call('HSET', key, 'status', 'PAUSED')
        redis.call('ZADD', NAME.paused .. endpoint_id, now_text, id)
        send = false
      end
    end
    if send then
      local token = redis.call('HINCRBY', key, 'lease', 1)
      redis.call('HSET', key, 'status', 'SENDING')
      redis.call('ZADD', KEYS[2], deadline, id)
      local flat = redis.call('HGETALL', key)
      local delivery = {}
      for i = 1, #flat, 2 do
        delivery[flat[i]] = flat[i + 1]
      end
      claimed[#claimed + 1] = {token = tostring(token), delivery = delivery, endpoint = endpoint}
    end
  end
end

local wait = '-1'
local next_due = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if next_due[2] then
  wait = string.format('%.6f', math.max(0, tonumber(next_due[2]) - now))
end
if #claimed == 0 then
  return {wait, '[]'}
end
return {wait, cjson.encode(claimed)}
