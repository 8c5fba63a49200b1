-- KEYS: token buckets; ARGV[1] now, then each bucket's rate per second and burst.
-- Each call's wait (0: a token was taken), in order: the rate-limited calls of one
-- event-loop turn in one command (tasks/jobs/store.py). Calls on the same bucket take
-- their tokens one after another, as separate commands would.
local now = tonumber(ARGV[1])
local waits = {}
for i, key in ipairs(KEYS) do
  waits[i] = take_token(key, now, tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1]))
end
return waits
