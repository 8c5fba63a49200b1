-- Keep a document under its hash and mark it used now; beyond the cap, forget the least
-- recently used ones, so the store stays bounded whatever clients register.
-- KEYS[1] documents (hash), KEYS[2] last use (zset); ARGV[1] sha256, ARGV[2] document,
-- ARGV[3] now (unix s), ARGV[4] cap. Returns 1 when the document is new.
local new = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local dropped = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #dropped, 2 do
    redis.call('HDEL', KEYS[1], dropped[i])
  end
end
return new
