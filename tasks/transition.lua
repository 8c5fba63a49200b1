-- Apply one status transition to a job record, atomically, and publish the new record.
-- KEYS[1] job hash, KEYS[2] event channel
-- ARGV[1] new status, ARGV[2] "1" to count an attempt, ARGV[3..] field/value pairs to set
-- Returns {applied (0/1), status before, attempts}. A terminal status is never overwritten, and a
-- missing record (expired or never created) is never re-created by a late event.
local current = redis.call('HGET', KEYS[1], 'status')
if not current then
  return {0, '', 0}
end
if current == 'SUCCEEDED' or current == 'FAILED' or current == 'CANCELLED' or current == 'EXPIRED' then
  return {0, current, tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')}
end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
local attempts
if ARGV[2] == '1' then
  attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
else
  attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
end
redis.call('PUBLISH', KEYS[2], cjson.encode(redis.call('HGETALL', KEYS[1])))
return {1, current, attempts}
