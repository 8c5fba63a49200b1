-- The failed-message index: a library prepended (after destinations.lua) to the scripts that
-- record an outcome, dead-letter or resend a delivery, so listing the failed messages of a
-- tenant or an endpoint and `recover` read an index, never a scan.
--
-- A message is FAILED while its last recorded attempt failed (it waits for its next retry,
-- is being retried, or is held by its disabled endpoint) or while it is dead-lettered; it
-- stops being failed when an attempt succeeds. DEAD is the dead-lettered subset. Four zsets
-- of delivery id by the message's creation time (stable, so a cursor never sees a message
-- move): NAME.failed_tenant .. tenant, NAME.failed_dest .. destination, and the same two
-- for dead. The destination of a registered endpoint is "tenant|endpoint id", so an
-- endpoint's own index is its destination's.

-- Index delivery `id` (hash `key`, destination `dest`, nil: look it up) by its status now:
-- SUCCEEDED leaves both sets, DEAD_LETTERED is in both, anything else (a failed attempt,
-- retried or held) is failed only. `oldest` (a number, or nil): entries of messages made
-- before it are trimmed, their deliveries having expired by then. Returns the status.
-- A success costs one lookup unless the message had failed (the common case is cheap).
local function index_outcome(key, id, dest, oldest)
  dest = dest or destination_of(key)
  local status = redis.call('HGET', key, 'status')
  if not dest or not status then
    return status
  end
  local tenant = tenant_of(dest)
  local failed = {NAME.failed_tenant .. tenant, NAME.failed_dest .. dest}
  local dead = {NAME.dead_tenant .. tenant, NAME.dead_dest .. dest}
  if status == 'SUCCEEDED' then
    if redis.call('ZSCORE', failed[2], id) then
      for _, k in ipairs({failed[1], failed[2], dead[1], dead[2]}) do
        redis.call('ZREM', k, id)
      end
    end
    return status
  end
  local created = redis.call('HGET', key, 'created_at') or '0'
  for _, k in ipairs(failed) do
    redis.call('ZADD', k, created, id)
  end
  for _, k in ipairs(dead) do
    if status == 'DEAD_LETTERED' then
      redis.call('ZADD', k, created, id)
    else
      redis.call('ZREM', k, id)
    end
  end
  if oldest then
    for _, k in ipairs({failed[1], failed[2], dead[1], dead[2]}) do
      redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. string.format('%.6f', oldest))
    end
  end
  return status
end
