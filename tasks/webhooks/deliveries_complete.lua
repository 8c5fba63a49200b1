-- Record the outcome of webhook attempts, a batch at a time. Every attempt is logged; the
-- delivery's state moves on only when the lease is still this dispatcher's (the token
-- matches), so a dispatcher whose lease ran out cannot undo another one's work. The
-- attempt's slot at its destination is freed (tasks/webhooks/destinations.lua, prepended).
-- A 410 disables the endpoint through disable_endpoint, a dead letter emits
-- message.attempt.exhausted (operational.lua, prepended); failed_index.lua keeps the index.
-- KEYS[1] in-flight zset, KEYS[2] dead-letter zset (trimmed to ARGV[2])
-- ARGV[1] a JSON array with per attempt [delivery id, lease token,
-- outcome (succeeded | retry | dead | gone), retry delay in seconds, error class or "",
-- the attempt's log entry as JSON text] (one argument: cheaper to send than 6 per attempt),
-- ARGV[2] seconds the dead-letter index keeps an entry (its delivery expires by then)
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local now_text = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
local MAX_LOGGED = 100

local function dead_letter(key, id)
  redis.call('HSET', key, 'status', 'DEAD_LETTERED')
  redis.call('ZADD', KEYS[2], now_text, id)
end

for _, done in ipairs(cjson.decode(ARGV[1])) do
  local id, token, outcome = done[1], done[2], done[3]
  local delay, error_class, attempt = done[4], done[5], done[6]
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
      if outcome == 'succeeded' then
        redis.call('HSET', key, 'status', 'SUCCEEDED')
      elseif outcome == 'retry' then
        local due = string.format('%.6f', now + delay)
        redis.call('HSET', key, 'status', 'PENDING', 'next_attempt_at', due)
        add_due(dest, id, due, now)
      elseif outcome == 'gone' then
        -- 410 from a registered endpoint: disable it; keep this message for enable.
        local endpoint_id = redis.call('HGET', key, 'endpoint_id')
        local endpoint_key = NAME.endpoint .. endpoint_id
        if endpoint_id ~= '' and redis.call('EXISTS', endpoint_key) == 1 then
          disable_endpoint(endpoint_id, 'the receiver answered 410 Gone', id, 410, now, now_text)
          redis.call('HSET', key, 'status', 'PAUSED')
          redis.call('ZADD', NAME.paused .. endpoint_id, now_text, id)
        else
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
