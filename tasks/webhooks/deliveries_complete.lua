-- Record the outcome of webhook attempts, a batch at a time. Every attempt is logged; the
-- delivery's state moves on only when the lease is still this dispatcher's (the token
-- matches), so a dispatcher whose lease ran out cannot undo another one's work. The
-- attempt's slot at its destination is freed (tasks/webhooks/destinations.lua, prepended),
-- and its destination's circuit breaker told (breaker.lua, prepended). A 410, or the breaker
-- giving up, disables the endpoint through disable_endpoint, and a dead letter emits
-- message.attempt.exhausted (operational.lua, prepended); failed_index.lua keeps the index.
-- KEYS[1] in-flight zset, KEYS[2] dead-letter zset (trimmed to ARGV[2])
-- ARGV[1] a JSON array with per attempt [delivery id, lease token,
-- outcome (succeeded | retry | dead | gone), retry delay in seconds, error class or "",
-- the attempt's log entry as JSON text, the breaker's signal (ok | fail | "")] (one
-- argument: cheaper to send than 7 per attempt),
-- ARGV[2] seconds the dead-letter index keeps an entry (its delivery expires by then),
-- ARGV[3..6] the breaker's policy: failures to open (0: off), first cool-down, longest
-- cool-down, seconds open before a registered endpoint is disabled (0: never)
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local now_text = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
local MAX_LOGGED = 100
local policy = {failures = tonumber(ARGV[3] or '0'), cooldown = tonumber(ARGV[4] or '0'),
                max_cooldown = tonumber(ARGV[5] or '0'), disable_after = tonumber(ARGV[6] or '0')}

local function dead_letter(key, id)
  redis.call('HSET', key, 'status', 'DEAD_LETTERED')
  redis.call('ZADD', KEYS[2], now_text, id)
end

-- A 410 Gone, or its circuit breaker giving up: disable the message's registered endpoint
-- (operational.lua's disable_endpoint, the one place an endpoint is disabled, tells the
-- tenant) and hold this message (PAUSED) for enable, like every later one (the claim pauses
-- them). False when the delivery has no endpoint (any more). `attempt`: the log entry.
local function disable_and_hold(key, id, reason, attempt)
  local endpoint_id = redis.call('HGET', key, 'endpoint_id')
  if endpoint_id == '' or redis.call('EXISTS', NAME.endpoint .. endpoint_id) == 0 then
    return false
  end
  disable_endpoint(endpoint_id, reason, id, attempt_status_code(attempt), now, now_text)
  redis.call('HSET', key, 'status', 'PAUSED')
  redis.call('ZADD', NAME.paused .. endpoint_id, now_text, id)
  return true
end

for _, done in ipairs(cjson.decode(ARGV[1])) do
  local id, token, outcome = done[1], done[2], done[3]
  local delay, error_class, attempt, signal = done[4], done[5], done[6], done[7] or ''
  local key = NAME.delivery .. id
  local lease = redis.call('HGET', key, 'lease')
  if lease then
    local log = NAME.attempts .. id
    redis.call('RPUSH', log, attempt)
    redis.call('LTRIM', log, -MAX_LOGGED, -1)
    redis.call('PEXPIRE', log, math.max(redis.call('PTTL', key), 1000))
    redis.call('HINCRBY', key, 'attempts', 1)
    if lease == token then
      redis.call('ZREM', KEYS[1], id)
      local dest = destination_of(key)
      release_slot(dest, id)
      -- Its lease may have run out unnoticed: then it is due again, and must not be sent.
      redis.call('ZREM', NAME.dest_due .. dest, id)
      redis.call('HINCRBY', key, 'round', 1)
      redis.call('HSET', key, 'last_error', error_class)
      if breaker_record(dest, id, signal, now, policy) then
        outcome = 'given_up'
      end
      if outcome == 'succeeded' then
        redis.call('HSET', key, 'status', 'SUCCEEDED')
      elseif outcome == 'retry' then
        local due = string.format('%.6f', now + delay)
        redis.call('HSET', key, 'status', 'PENDING', 'next_attempt_at', due)
        add_due(dest, id, due, now)
      elseif outcome == 'gone' or outcome == 'given_up' then
        -- 410 from a registered endpoint, or its breaker gave up: disable it; keep this
        -- message for enable.
        local reason = outcome == 'gone' and 'the receiver answered 410 Gone' or string.format(
          'failing for %d s: the circuit breaker gave up', math.floor(policy.disable_after))
        if not disable_and_hold(key, id, reason, attempt) then
          dead_letter(key, id)
        end
      else
        dead_letter(key, id)
      end
      -- The failed-message index; an event when dead-lettered (failed_index.lua, operational.lua).
      if index_outcome(key, id, dest, now - tonumber(ARGV[2]) - 86400) == 'DEAD_LETTERED' then
        message_exhausted(key, id, attempt, now, now_text)
      end
    end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
return 1
