-- The circuit breaker of each destination: a library prepended after destinations.lua to
-- the claim, the recording of outcomes and the deletion of an endpoint.
--
-- Its state is NAME.dest_breaker .. dest, a hash that exists only while the destination is
-- failing (a success deletes it): state (absent: closed | open | half_open), failures
-- (consecutive failures counted so far), opened_at (when this streak first opened it: the
-- give-up clock), cooldown (seconds of the current cool-down), probe_at (when it ends),
-- probe (the delivery sent as the probe), last_failure_at.
--
-- closed -> open: the policy's number of consecutive failures (timeouts, connection
-- errors, 5xx: worker/webhooks/retry_policy.py decides what counts). An open destination
-- is in NAME.dest_open (score: the end of its cool-down) and in none of the schedule's
-- sets, so its due messages are neither claimed nor charged an attempt, and the claim
-- spends nothing on it. open -> half_open: the claim, once the cool-down has ended
-- (NAME.dest_half_open; the cap is then 1, so one attempt goes out: the probe).
-- half_open -> closed on any success; -> open again when the probe fails, with twice the
-- cool-down (capped); given up when the probe fails and the destination first opened
-- longer ago than the give-up time: the caller then disables a registered endpoint.
-- Each transition is counted in NAME.breaker_transitions (a metrics hash, by new state).

local BREAKER_TTL_MS = 8 * 86400 * 1000  -- a failing streak nobody probes is forgotten

local function breaker_key(dest)
  return NAME.dest_breaker .. dest
end

local function count_transition(to)
  redis.call('HINCRBY', NAME.breaker_transitions, to, 1)
end

-- Out of the schedule until `now` + `cooldown`.
local function open_breaker(dest, now, cooldown)
  local key = breaker_key(dest)
  unready(dest)
  redis.call('ZREM', NAME.dest_waiting, dest)
  redis.call('ZREM', NAME.dest_full, dest)
  redis.call('ZREM', NAME.dest_half_open, dest)
  local probe_at = string.format('%.6f', now + cooldown)
  redis.call('ZADD', NAME.dest_open, probe_at, dest)
  redis.call('HSET', key, 'state', 'open', 'cooldown', cooldown, 'probe_at', probe_at)
  redis.call('HDEL', key, 'probe')
  count_transition('open')
end

-- The claim, at the end of the cool-down: one probe may go out.
local function half_open_breaker(dest)
  local key = breaker_key(dest)
  redis.call('ZREM', NAME.dest_open, dest)
  redis.call('ZADD', NAME.dest_half_open, redis.call('HGET', key, 'opened_at') or '0', dest)
  redis.call('HSET', key, 'state', 'half_open')
  redis.call('HDEL', key, 'probe')
  count_transition('half_open')
end

-- The streak is over (`to`: 'closed' after a success, 'gave_up' when the endpoint is
-- disabled); its due messages are back in the schedule.
local function close_breaker(dest, now, to)
  local held = redis.call('ZREM', NAME.dest_open, dest)
    + redis.call('ZREM', NAME.dest_half_open, dest)
  redis.call('DEL', breaker_key(dest))
  if held > 0 or to == 'gave_up' then
    count_transition(to)
    reschedule(dest, now)
  end
end

-- The breaker's part of one recorded attempt of delivery `id` at `dest`. `signal`: 'ok'
-- (a success), 'fail' (counts towards opening) or '' (neither, e.g. a 4xx or a 429).
-- `policy`: {failures = to open (0: no breaker), cooldown = first cool-down, max_cooldown,
-- disable_after = seconds open before giving up (0: never)}. Returns true when the
-- destination, a registered endpoint, is given up: the caller disables the endpoint.
local function breaker_record(dest, id, signal, now, policy)
  local key = breaker_key(dest)
  if signal == 'ok' then
    if redis.call('EXISTS', key) == 1 then
      close_breaker(dest, now, 'closed')
    end
    return false
  end
  if signal ~= 'fail' or policy.failures <= 0 then
    return false
  end
  local b = redis.call('HMGET', key, 'state', 'failures', 'opened_at', 'cooldown', 'probe')
  local failures = tonumber(b[2] or '0') + 1
  redis.call('HSET', key, 'failures', failures, 'last_failure_at', string.format('%.6f', now))
  redis.call('PEXPIRE', key, BREAKER_TTL_MS)
  local state = b[1] or 'closed'
  if state == 'closed' then
    if failures >= policy.failures then
      redis.call('HSET', key, 'opened_at', string.format('%.6f', now))
      open_breaker(dest, now, policy.cooldown)
    end
  elseif state == 'half_open' and b[5] == id then  -- the probe failed
    if policy.disable_after > 0 and now - tonumber(b[3] or now) >= policy.disable_after
        and string.match(dest, '^[^|]*|wh_') then
      close_breaker(dest, now, 'gave_up')
      return true
    end
    open_breaker(dest, now, math.min(2 * tonumber(b[4] or policy.cooldown), policy.max_cooldown))
  end
  -- Open, or a failure of an attempt sent before it opened: counted, nothing more.
  return false
end
