#!lua
-- Create job records (and push their Celery messages), a batch of jobs in one call.
-- The shebang makes Redis refuse the whole script up front when it is out of memory, so a
-- batch is written entirely or not at all.
-- KEYS[1] the job index (sorted set), KEYS[1 + i] the hash of job i
-- ARGV, per job: id, created_at, ttl, queue ('' = no message), message, n, then n
-- field/value pairs of the new record.
local a = 1
for i = 2, #KEYS do
  local id, created_at, ttl, queue, message = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local n = tonumber(ARGV[a + 5])
  a = a + 6
  redis.call('HSET', KEYS[i], unpack(ARGV, a, a + 2 * n - 1))
  a = a + 2 * n
  redis.call('EXPIRE', KEYS[i], ttl)
  redis.call('ZADD', KEYS[1], created_at, id)
  if queue ~= '' then
    redis.call('LPUSH', queue, message)
  end
end
return #KEYS - 1
