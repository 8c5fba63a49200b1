-- Destinations and their schedule: a library prepended to every script that makes a
-- delivery due (tasks/redis/lua.py), so they all keep the same invariants.
--
-- A destination is "tenant|target": the target is a registered endpoint's id, or for a
-- per-job callback its URL's origin (scheme://host:port, lower case, port explicit). Each
-- destination has its due deliveries (NAME.dest_due .. d, by due time) and its leases
-- (NAME.dest_leases .. d, by lease deadline: an attempt in flight holds one of the
-- destination's slots until its outcome is recorded or its lease runs out, so a dead
-- dispatcher never keeps a slot). A destination with due deliveries is in exactly one of:
--   NAME.dest_ready .. tenant  its tenant's ring (score: ring position): due now, under its cap
--   NAME.dest_waiting          score: its first due time, later than now
--   NAME.dest_full             at its cap; score: when to look again (a lease's deadline, or
--                              0 once an outcome freed a slot)
-- or, while its circuit breaker is open, in NAME.dest_open only (tasks/webhooks/breaker.lua);
-- and a tenant is in NAME.dest_tenants (score: ring position) while its ring is not empty,
-- unless it is over its rate this second (NAME.tenant_waiting, until the next second).
-- Ring positions come from one counter, so "to the back of the ring" is exact.
-- Scripts other than the claim do not know the cap or the rates: they only ever make a
-- destination ready or waiting, and the claim moves one found at its cap to NAME.dest_full
-- and one over its rate to NAME.dest_waiting (until its next second).

local DEFAULT_PORTS = {http = '80', https = '443'}

-- The origin of a callback URL: scheme://host:port, without user info, lower case, the
-- default port written out, so that `HTTP://Example.com/a` and `http://example.com:80/b`
-- are one destination.
local function origin_of(url)
  local scheme, authority = string.match(url, '^(%a[%w+.-]*)://([^/?#]*)')
  if not scheme then
    return url
  end
  scheme = string.lower(scheme)
  authority = string.lower((string.gsub(authority, '^.*@', '')))
  local host, port = string.match(authority, '^(%[[^%]]*%]):?(%d*)$')
  if not host then
    host, port = string.match(authority, '^([^:]*):?(%d*)$')
  end
  if not host then
    return scheme .. '://' .. authority
  end
  host = string.gsub(host, '%.$', '')
  if port == '' then
    port = DEFAULT_PORTS[scheme] or ''
  else
    port = tostring(tonumber(port))
  end
  return scheme .. '://' .. host .. (port ~= '' and (':' .. port) or '')
end

local function tenant_of(dest)
  return string.match(dest, '^([^|]*)|')
end

-- The destination of a delivery (nil: it has expired). Deliveries created before
-- destinations existed get theirs here, once: the tenant from the job snapshot.
local function destination_of(key)
  local f = redis.call('HMGET', key, 'destination', 'endpoint_id', 'url', 'job')
  if f[1] then
    return f[1]
  end
  if not f[3] then
    return nil
  end
  local tenant = 'public'
  local ok, flat = pcall(cjson.decode, f[4] or '[]')
  if ok and type(flat) == 'table' then
    for i = 1, #flat - 1, 2 do
      if flat[i] == 'tenant' then
        tenant = flat[i + 1]
      end
    end
  end
  local target = (f[2] and f[2] ~= '') and f[2] or origin_of(f[3])
  local dest = tenant .. '|' .. target
  redis.call('HSET', key, 'destination', dest)
  return dest
end

local function ring_position()
  return redis.call('INCR', NAME.dest_ring)
end

-- Into its tenant's ring, at the back (the tenant too, if it was not in the tenants' ring).
local function make_ready(dest)
  local tenant = tenant_of(dest)
  local ring = NAME.dest_ready .. tenant
  if redis.call('ZSCORE', ring, dest) then
    return
  end
  redis.call('ZADD', ring, ring_position(), dest)
  if not redis.call('ZSCORE', NAME.dest_tenants, tenant)
      and not redis.call('ZSCORE', NAME.tenant_waiting, tenant) then
    redis.call('ZADD', NAME.dest_tenants, ring_position(), tenant)
  end
end

local function unready(dest)
  local tenant = tenant_of(dest)
  local ring = NAME.dest_ready .. tenant
  redis.call('ZREM', ring, dest)
  if redis.call('EXISTS', ring) == 0 then
    redis.call('ZREM', NAME.dest_tenants, tenant)
  end
end

-- Delivery `id` of `dest` is due at `score` (text; `now` a number): the destination is
-- looked at again by then, wherever it is in the schedule.
local function add_due(dest, id, score, now)
  redis.call('ZADD', NAME.dest_due .. dest, score, id)
  if redis.call('ZSCORE', NAME.dest_full, dest) then
    return  -- the claim looks again when a slot frees
  end
  if redis.call('ZSCORE', NAME.dest_open, dest) then
    return  -- its breaker is open: the claim looks again when the cool-down ends
  end
  if redis.call('ZSCORE', NAME.dest_ready .. tenant_of(dest), dest) then
    return
  end
  if tonumber(score) <= now then
    redis.call('ZREM', NAME.dest_waiting, dest)
    make_ready(dest)
  else
    redis.call('ZADD', NAME.dest_waiting, 'LT', score, dest)
  end
end

-- An attempt of `dest` ended (outcome recorded or lease lost): its slot is free.
local function release_slot(dest, id)
  redis.call('ZREM', NAME.dest_leases .. dest, id)
  redis.call('ZADD', NAME.dest_full, 'XX', 0, dest)
end

-- Slots of `dest` in use: its leases that have not run out (`now_text`: Redis' clock).
local function slots_in_use(dest, now_text)
  local leases = NAME.dest_leases .. dest
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now_text)
  return redis.call('ZCARD', leases), leases
end

-- Back into the schedule after its breaker held it: ready or waiting by its first due
-- delivery (the claim corrects for the cap and the rates).
local function reschedule(dest, now)
  local head = redis.call('ZRANGE', NAME.dest_due .. dest, 0, 0, 'WITHSCORES')
  if head[1] then
    add_due(dest, head[1], head[2], now)
  end
end

-- Where `dest` belongs now, for the claim, which knows the cap: ready, waiting, full, or
-- nowhere (nothing due). `not_before` (a number or nil): it may not send before then (its
-- rate is spent this second). Returns that state.
local function place(dest, now, now_text, cap, not_before)
  local head = redis.call('ZRANGE', NAME.dest_due .. dest, 0, 0, 'WITHSCORES')
  if not head[1] then
    redis.call('ZREM', NAME.dest_waiting, dest)
    redis.call('ZREM', NAME.dest_full, dest)
    unready(dest)
    return 'idle'
  end
  local used, leases = slots_in_use(dest, now_text)
  if used >= cap then
    unready(dest)
    redis.call('ZREM', NAME.dest_waiting, dest)
    redis.call('ZADD', NAME.dest_full, redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')[2], dest)
    return 'full'
  end
  redis.call('ZREM', NAME.dest_full, dest)
  local at = head[2]
  if not_before and not_before > tonumber(at) then
    at = string.format('%.6f', not_before)
  end
  if tonumber(at) > now then
    unready(dest)
    redis.call('ZADD', NAME.dest_waiting, at, dest)
    return 'waiting'
  end
  redis.call('ZREM', NAME.dest_waiting, dest)
  make_ready(dest)
  return 'ready'
end
