-- Token bucket (shared by the scripts that rate-limit; prepended to them at load time).
-- Returns 0 when a token was taken, else the whole seconds to wait for one.
local function take_token(key, now, rate, burst)
  if rate <= 0 then
    return 0
  end
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1]) or burst
  local ts = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  local wait = 0
  if tokens < 1 then
    wait = math.ceil((1 - tokens) / rate)
  else
    tokens = tokens - 1
  end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('EXPIRE', key, math.ceil(burst / rate) + 1)
  return wait
end
