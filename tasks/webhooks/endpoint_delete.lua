-- Delete an endpoint; the messages it held while disabled become due, so the dispatcher
-- dead-letters them as `endpoint_deleted` (the one place that decides a delivery's fate).
-- KEYS[1] the endpoint hash, KEYS[2] its tenant's endpoint set, KEYS[3] its held messages,
-- KEYS[4] the due zset; ARGV[1] the endpoint id. Returns 1 if it existed.
local existed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  redis.call('ZADD', KEYS[4], 0, id)
end
redis.call('DEL', KEYS[3])
return existed
