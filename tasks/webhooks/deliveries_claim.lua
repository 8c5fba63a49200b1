-- Claim due webhook deliveries for one dispatcher, atomically, fairly across destinations
-- and tenants (the schedule: tasks/webhooks/destinations.lua, and the circuit breaker:
-- breaker.lua, prepended). Each claimed
-- delivery gets a lease deadline, in the in-flight set and its destination's leases, so no
-- two dispatchers ever send the same attempt and all of them together keep each
-- destination's cap. A lease that ran out (its dispatcher died mid-attempt) makes the
-- delivery due again. Deliveries of a deleted endpoint are dead-lettered, those of a
-- disabled one paused, without an attempt. All times are Redis' clock.
--
-- Round robin, in turns: each turn takes one delivery from each tenant that has a ready
-- destination, from the destination at the front of that tenant's ring, then moves both to
-- the back of their rings; turns repeat until `most` are claimed or nothing is ready. So a
-- backlog at one destination never sits in front of another's due deliveries, a
-- destination at its cap is set aside without blocking anyone, and a tenant with many
-- destinations gets one turn like a tenant with one. A tenant with one ready destination
-- takes its share of the turns left in one go: the same deliveries, without a round of the
-- rings for each (a claim of 50 from one destination costs 4 calls a delivery, not 20).
--
-- Flow control, here too: a destination whose breaker is open is not in the schedule; at
-- the end of its cool-down it turns half-open with a cap of 1 (the one attempt is the
-- probe). Rate limits are per-second windows of Redis' clock: a registered endpoint's
-- `rate_limit`, and ARGV[4] per tenant; a destination over its rate waits in
-- NAME.dest_waiting, a tenant over its rate in NAME.tenant_waiting, until the next second.
-- The windows are read once per claim and written back at the end.
-- KEYS[1] in-flight zset (every lease), KEYS[2] dead-letter zset, KEYS[3] the due zset of
-- versions before destinations (drained here, MIGRATE at a time)
-- ARGV[1] most to claim, ARGV[2] lease seconds, ARGV[3] attempts in flight per destination,
-- ARGV[4] deliveries per second per tenant (0: no limit)
-- Returns {seconds until something may be claimable or "-1", a JSON array of the claimed
-- deliveries: {"token", "delivery": {its hash}, "endpoint": {its secrets}}}. One JSON string
-- rather than nested replies: it is parsed in C (orjson), not field by field in Python.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local now_text = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
local most, cap = tonumber(ARGV[1]), tonumber(ARGV[3])
local tenant_limit = tonumber(ARGV[4] or '0')
local deadline = string.format('%.6f', now + tonumber(ARGV[2]))
local second = tonumber(t[1])  -- the rate windows' second; the next one starts at second + 1
local MIGRATE, LOOK = 500, 1000
local budget = 4 * most + 1000  -- deliveries looked at without a claim, at most

-- What this claim has read, once: breaker states, endpoints' rate limits, rate windows.
local states, limits, windows = {}, {}, {}

local function state_of(dest)
  local state = states[dest]
  if state == nil then
    state = redis.call('HGET', NAME.dest_breaker .. dest, 'state') or 'closed'
    states[dest] = state
  end
  return state
end

local function cap_of(dest)
  return state_of(dest) == 'half_open' and 1 or cap
end

-- The count of a per-second window (`key`: NAME.dest_rate or NAME.tenant_rate ..), this
-- second's, as {count, limit}.
local function window(key, limit)
  local w = windows[key]
  if not w then
    local at, count = string.match(redis.call('GET', key) or '', '^(%d+):(%d+)$')
    w = {count = (tonumber(at) == second) and tonumber(count) or 0, limit = limit}
    windows[key] = w
  end
  return w
end

-- The window of a registered endpoint with a rate limit (nil for any other destination).
local function dest_window(dest)
  local limit = limits[dest]
  if limit == nil then
    limit = false
    local endpoint_id = string.match(dest, '^[^|]*|(wh_%w+)$')
    if endpoint_id then
      limit = tonumber(redis.call('HGET', NAME.endpoint .. endpoint_id, 'rate_limit')) or false
    end
    limits[dest] = limit
  end
  return limit and window(NAME.dest_rate .. dest, limit) or nil
end

local function spent(w)
  return w ~= nil and w.count >= w.limit
end

-- When `dest` may send again if its rate is spent this second (else nil).
local function not_before(dest)
  return spent(dest_window(dest)) and second + 1 or nil
end

local function tenant_window(tenant)
  return tenant_limit > 0 and window(NAME.tenant_rate .. tenant, tenant_limit) or nil
end

-- Over its rate: out of the tenants' ring until the next second.
local function park(tenant)
  redis.call('ZREM', NAME.dest_tenants, tenant)
  redis.call('ZADD', NAME.tenant_waiting, second + 1, tenant)
end

-- What an older version left due: to its destination, keeping its due time.
local old = redis.call('ZRANGE', KEYS[3], 0, MIGRATE - 1, 'WITHSCORES')
for i = 1, #old, 2 do
  redis.call('ZREM', KEYS[3], old[i])
  local dest = destination_of(NAME.delivery .. old[i])
  if dest then
    add_due(dest, old[i], old[i + 1], now)
  end
end

-- Leases that ran out: due again now (the lease outlasts the request timeout, so that
-- attempt is over).
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_text, 'LIMIT', 0, 100)) do
  redis.call('ZREM', KEYS[1], id)
  local dest = destination_of(NAME.delivery .. id)
  if dest then
    release_slot(dest, id)
    add_due(dest, id, now_text, now)
  end
end

-- Tenants whose rate window has passed: back in the tenants' ring.
for _, tenant in ipairs(redis.call('ZRANGEBYSCORE', NAME.tenant_waiting, '-inf', now_text,
    'LIMIT', 0, LOOK)) do
  redis.call('ZREM', NAME.tenant_waiting, tenant)
  if redis.call('EXISTS', NAME.dest_ready .. tenant) == 1 then
    redis.call('ZADD', NAME.dest_tenants, ring_position(), tenant)
  end
end

-- Breakers whose cool-down has ended: half-open, one probe may go.
for _, dest in ipairs(redis.call('ZRANGEBYSCORE', NAME.dest_open, '-inf', now_text,
    'LIMIT', 0, LOOK)) do
  half_open_breaker(dest)
  states[dest] = 'half_open'
  place(dest, now, now_text, 1, not_before(dest))
end

-- Destinations to look at again: a slot freed, or their first delivery is due.
for _, dest in ipairs(redis.call('ZRANGEBYSCORE', NAME.dest_full, '-inf', now_text,
    'LIMIT', 0, LOOK)) do
  place(dest, now, now_text, cap_of(dest), not_before(dest))
end
for _, dest in ipairs(redis.call('ZRANGEBYSCORE', NAME.dest_waiting, '-inf', now_text,
    'LIMIT', 0, LOOK)) do
  place(dest, now, now_text, cap_of(dest), not_before(dest))
end

local claimed = {}

-- Up to `most_here` due deliveries of `dest` that are to be sent, leased; how many were.
-- On the way, expired deliveries are forgotten and a deleted or disabled endpoint's
-- deliveries dead-lettered or paused. One destination has one endpoint (or none: a
-- callback origin), read once; the leases are written in one ZADD each.
local function take(dest, most_here)
  local due = NAME.dest_due .. dest
  local taken, leases = 0, {}
  local endpoint, endpoint_id, enabled = nil, nil, true
  while taken < most_here and budget > 0 do
    local ids = redis.call('ZRANGE', due, '-inf', now_text, 'BYSCORE', 'LIMIT', 0,
      most_here - taken)
    if not ids[1] then
      break
    end
    redis.call('ZREM', due, unpack(ids))
    for _, id in ipairs(ids) do
      budget = budget - 1
      local key = NAME.delivery .. id
      local flat = redis.call('HGETALL', key)
      local delivery = {}
      for i = 1, #flat, 2 do
        delivery[flat[i]] = flat[i + 1]
      end
      if delivery.endpoint_id then  -- else the delivery has expired: forget it
        if endpoint_id == nil and delivery.endpoint_id ~= '' then
          endpoint_id = delivery.endpoint_id
          local e = redis.call('HMGET', NAME.endpoint .. endpoint_id, 'secret',
            'previous_secret', 'previous_secret_until', 'enabled')
          endpoint = e[1] and {secret = e[1], previous_secret = e[2] or '',
                               previous_secret_until = e[3] or ''}
          enabled = e[4] == '1'
        end
        if delivery.endpoint_id ~= '' and not endpoint then
          redis.call('HSET', key, 'status', 'DEAD_LETTERED', 'last_error', 'endpoint_deleted')
          redis.call('ZADD', KEYS[2], now_text, id)
          index_outcome(key, id, dest, nil)  -- failed_index.lua, prepended
        elseif delivery.endpoint_id ~= '' and not enabled then
          redis.call('HSET', key, 'status', 'PAUSED')
          redis.call('ZADD', NAME.paused .. delivery.endpoint_id, now_text, id)
        else
          local token = tostring((tonumber(delivery.lease) or 0) + 1)
          redis.call('HSET', key, 'lease', token, 'status', 'SENDING')
          delivery.lease, delivery.status = token, 'SENDING'
          leases[#leases + 1] = deadline
          leases[#leases + 1] = id
          claimed[#claimed + 1] = {token = token, delivery = delivery,
                                   endpoint = delivery.endpoint_id ~= '' and endpoint or nil}
          taken = taken + 1
          if state_of(dest) == 'half_open' then
            redis.call('HSET', NAME.dest_breaker .. dest, 'probe', id)
          end
        end
      end
    end
  end
  if taken > 0 then
    redis.call('ZADD', KEYS[1], unpack(leases))
    redis.call('ZADD', NAME.dest_leases .. dest, unpack(leases))
  end
  return taken
end

-- Up to `most_here` deliveries for `tenant`, from the first destination of its ring that
-- has any to send (within its cap and rate); how many.
local function serve(tenant, most_here)
  local ring = NAME.dest_ready .. tenant
  while budget > 0 do
    local dest = redis.call('ZRANGE', ring, 0, 0)[1]
    if not dest then
      return 0
    end
    local sent = 0
    local w = dest_window(dest)
    local room = cap_of(dest) - slots_in_use(dest, now_text)
    if w then
      room = math.min(room, w.limit - w.count)
    end
    if room > 0 then
      sent = take(dest, math.min(room, most_here))
    end
    if sent > 0 and w then
      w.count = w.count + sent
      w.dirty = true
    end
    redis.call('ZREM', ring, dest)  -- so that place() puts it at the back, if still ready
    place(dest, now, now_text, cap_of(dest), not_before(dest))
    if sent > 0 then
      return sent
    end
    budget = budget - 1
  end
  return 0
end

-- Turns: one delivery per tenant, from the front of its ring. A tenant with one ready
-- destination takes its share of what is left in one go instead (the same deliveries the
-- turns would give it, without a round of the rings per delivery).
local active = redis.call('ZRANGE', NAME.dest_tenants, 0, most - 1)
while #claimed < most and #active > 0 and budget > 0 do
  local still = {}
  local share = math.max(1, math.floor((most - #claimed) / #active))
  for _, tenant in ipairs(active) do
    if #claimed >= most then
      break
    end
    local w = tenant_window(tenant)
    local most_here = 1
    if redis.call('ZCARD', NAME.dest_ready .. tenant) == 1 then
      most_here = math.min(share, most - #claimed)
    end
    if w then
      most_here = math.min(most_here, w.limit - w.count)
    end
    local sent = 0
    if most_here > 0 then
      sent = serve(tenant, most_here)
    end
    if most_here <= 0 then
      park(tenant)
    elseif sent > 0 then
      if w then
        w.count = w.count + sent
        w.dirty = true
      end
      if spent(w) then
        park(tenant)
      elseif redis.call('ZADD', NAME.dest_tenants, 'XX', 'CH', ring_position(), tenant) == 1 then
        still[#still + 1] = tenant
      end
    end
  end
  active = still
end

for key, w in pairs(windows) do
  if w.dirty then
    redis.call('SET', key, second .. ':' .. w.count, 'PX', 2000)
  end
end

-- When to claim again: now if any destination is ready, else the earliest of a waiting
-- destination's first due time, a full one's next look, a lease's deadline, an old entry,
-- the end of a cool-down, a tenant's next second.
local next_at = nil
if redis.call('EXISTS', NAME.dest_tenants) == 1 then
  next_at = now
end
for _, key in ipairs({NAME.dest_waiting, NAME.dest_full, KEYS[1], KEYS[3], NAME.dest_open,
    NAME.tenant_waiting}) do
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
  if first and (next_at == nil or tonumber(first) < next_at) then
    next_at = tonumber(first)
  end
end
local wait = '-1'
if next_at then
  wait = string.format('%.6f', math.max(0, next_at - now))
end
if #claimed == 0 then
  return {wait, '[]'}
end
return {wait, cjson.encode(claimed)}
