-- Store an endpoint's secrets sealed anew (under the first WEBHOOK_ENCRYPTION_KEY, or for
-- the first time), only if they are still what the caller read: a rotation in between
-- wins, and the caller reads again (tasks/webhooks/reseal.py).
-- KEYS[1] the endpoint hash; ARGV in threes: field, the value read, the value to store.
-- Returns 1 when written, 0 when a value changed or the endpoint is gone.
for i = 1, #ARGV, 3 do
  if (redis.call('HGET', KEYS[1], ARGV[i]) or '') ~= ARGV[i + 1] then
    return 0
  end
end
for i = 1, #ARGV, 3 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
end
return 1
