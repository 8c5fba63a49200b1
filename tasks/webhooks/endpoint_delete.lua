-- Delete an endpoint; the messages it held while disabled become due, so the dispatcher
-- dead-letters them as `endpoint_deleted` (the one place that decides a delivery's fate).
-- (Due at their destination: tasks/webhooks/destinations.lua, prepended; its circuit
-- breaker, breaker.lua, is closed first, so that they are not held.)
-- KEYS[1] the endpoint hash, KEYS[2] its tenant's endpoint set, KEYS[3] its held messages;
-- ARGV[1] the endpoint id, ARGV[2] its destination. Returns 1 if it existed.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local existed = redis.call('DEL', KEYS[1])
if redis.call('EXISTS', NAME.dest_breaker .. ARGV[2]) == 1 then
  close_breaker(ARGV[2], now, 'closed')
end
redis.call('SREM', KEYS[2], ARGV[1])
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local dest = destination_of(NAME.delivery .. id)
  if dest then
    add_due(dest, id, '0', now)
  end
end
redis.call('DEL', KEYS[3])
return existed
