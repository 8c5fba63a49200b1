-- Set (or, with an empty ARGV[1], clear) a registered endpoint's rate limit, in deliveries
-- per second; the claim reads it (deliveries_claim.lua). Only an endpoint that exists: a
-- concurrent delete must not leave half an endpoint behind.
-- KEYS[1] the endpoint hash. Returns 1 if it exists.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[1], 'rate_limit')
else
  redis.call('HSET', KEYS[1], 'rate_limit', ARGV[1])
end
return 1
