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

-- The four index keys of a delivery hash `key` (nil when it has expired), and its score.
local function failed_keys(key)
  local dest = destination_of(key)
  if not dest then
    return nil
  end
  local tenant = tenant_of(dest)
  local created = redis.call('HGET', key, 'created_at') or '0'
  return {failed = {NAME.failed_tenant .. tenant, NAME.failed_dest .. dest},
          dead = {NAME.dead_tenant .. tenant, NAME.dead_dest .. dest}}, created
end

-- Index delivery `id` (hash `key`) by its status now: SUCCEEDED leaves both sets,
-- DEAD_LETTERED is in both, anything else (a failed attempt, retried or held) is failed only.
-- `oldest` (a number, or nil): entries of messages created before it are trimmed, as their
-- deliveries have expired by then.
local function index_outcome(key, id, oldest)
  local keys, created = failed_keys(key)
  if not keys then
    return
  end
  local status = redis.call('HGET', key, 'status')
  for _, k in ipairs(keys.failed) do
    if status == 'SUCCEEDED' then
      redis.call('ZREM', k, id)
    else
      redis.call('ZADD', k, created, id)
    end
  end
  for _, k in ipairs(keys.dead) do
    if status == 'DEAD_LETTERED' then
      redis.call('ZADD', k, created, id)
    else
      redis.call('ZREM', k, id)
    end
  end
  if oldest then
    for _, k in ipairs({keys.failed[1], keys.failed[2], keys.dead[1], keys.dead[2]}) do
      redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. string.format('%.6f', oldest))
    end
  end
end
