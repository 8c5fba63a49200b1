-- KEYS: job records. Each one's HGETALL (an empty array: no record), in order: the
-- concurrent polls of one event-loop turn in one command (tasks/jobs/store.py).
local records = {}
for i, key in ipairs(KEYS) do
  records[i] = redis.call('HGETALL', key)
end
return records
