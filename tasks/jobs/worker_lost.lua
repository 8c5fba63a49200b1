-- Hand back the running jobs of lost workers: worker runs whose heartbeat stamp is older than
-- the cutoff. Each job STARTED on such a run gets the message kombu holds as unacknowledged
-- pushed back to its queue, as kombu's own restore after the visibility timeout does (RPUSH:
-- consumed next, since consumers BRPOP), and leaves kombu's unacked hash and index; its
-- record goes back to QUEUED with the reason in `error`, keeps a copy of the message for
-- tasks/jobs/recover.lua like a submit does, and is published. The message gets a new
-- delivery tag: a late acknowledgement of the old one (a worker that was only slow) then
-- cannot remove the next delivery's unacked entry. The run is then forgotten, so a second
-- run of this script (every live worker runs it) finds nothing; a job that has moved on
-- (ended, or STARTED on another run) or whose message is no longer unacknowledged is left
-- alone. A message this script cannot place (an exchange other than the default one and a
-- direct binding, or a value not as kombu writes it) stays for the visibility timeout.
-- job_index.lua (prepended) keeps the listing indexes.
-- KEYS[1] kombu's unacked hash, KEYS[2] kombu's unacked index
-- ARGV[1] cutoff (unix s), ARGV[2] now (unix s), ARGV[3] most runs to hand back,
-- ARGV[4] kombu's binding key prefix, ARGV[5] kombu's separator, ARGV[6] seconds of silence
-- Returns, flattened, per lost run: run, number of jobs handed back n, then n job id/function
-- pairs.
local sep = ARGV[5]

local function split(text)
  local parts, from = {}, 1
  while true do
    local at = string.find(text, sep, from, true)
    if not at then
      table.insert(parts, string.sub(text, from))
      return parts
    end
    table.insert(parts, string.sub(text, from, at - 1))
    from = at + #sep
  end
end

-- The queues kombu would restore to (its Channel._lookup): the routing key itself on the
-- default exchange, else the queues bound with that routing key.
local function queues_of(exchange, routing_key)
  if exchange == '' then
    return {routing_key}
  end
  local found = {}
  for _, member in ipairs(redis.call('SMEMBERS', ARGV[4] .. exchange)) do
    local binding = split(member)
    if binding[1] == routing_key and binding[3] and binding[3] ~= '' then
      table.insert(found, binding[3])
    end
  end
  return found
end

-- kombu's list for a queue at a message priority (Channel._q_for_pri: steps 0, 3, 6, 9).
local function priority_list(queue, priority)
  local p = math.max(0, math.min(9, tonumber(priority) or 0))
  local step = p >= 9 and 9 or p >= 6 and 6 or p >= 3 and 3 or 0
  return step == 0 and queue or queue .. sep .. step
end

-- The message out of kombu's unacked value, `[message, "exchange", "routing key"]` as
-- Python's json writes it, byte for byte (a Lua re-encoding would change it), with a new tag.
local function message_of(value, tag)
  local decoded, entry = pcall(cjson.decode, value)
  if not decoded or type(entry) ~= 'table' or type(entry[1]) ~= 'table' then
    return nil
  end
  local exchange, routing_key = entry[2], entry[3]
  if type(exchange) ~= 'string' or type(routing_key) ~= 'string' then
    return nil
  end
  local tail = ', ' .. cjson.encode(exchange) .. ', ' .. cjson.encode(routing_key) .. ']'
  if string.sub(value, 1, 1) ~= '[' or string.sub(value, -#tail) ~= tail then
    return nil
  end
  local message = string.sub(value, 2, #value - #tail)
  local old = '"delivery_tag": "' .. tag .. '"'
  local at = string.find(message, old, 1, true)
  if at then
    local new = redis.sha1hex(tag .. '|' .. ARGV[2])
    message = string.sub(message, 1, at - 1) .. '"delivery_tag": "' .. new .. '"'
      .. string.sub(message, at + #old)
  end
  local properties = entry[1]['properties']
  return message, exchange, routing_key, type(properties) == 'table' and properties['priority']
end

local function hand_back(job_id, run, key, tag)
  local value = redis.call('HGET', KEYS[1], tag)
  if not value then
    return false
  end
  local message, exchange, routing_key, priority = message_of(value, tag)
  if not message then
    return false
  end
  local queues = queues_of(exchange, routing_key)
  if #queues == 0 then
    return false
  end
  for _, queue in ipairs(queues) do
    redis.call('RPUSH', priority_list(queue, priority), message)
  end
  redis.call('HDEL', KEYS[1], tag)
  redis.call('ZREM', KEYS[2], tag)
  set_status(key, 'STARTED', 'QUEUED')
  local worker = redis.call('HGET', key, 'worker') or run
  local reason = cjson.encode({type = 'WorkerLostError', message = 'the worker ' .. worker
    .. ' running this job sent no heartbeat for ' .. ARGV[6] .. ' s; the job went back to its queue'})
  -- 'lost:<run>' owns it now: the lost run's own late reports are refused (transition.lua).
  redis.call('HSET', key, 'error', reason, 'worker_run', 'lost:' .. run,
    'message', message, 'queue', priority_list(queues[1], priority))
  redis.call('HDEL', key, 'delivery_tag')
  redis.call('ZADD', NAME.queued, ARGV[2], job_id)
  redis.call('PUBLISH', NAME.job_events .. job_id, cjson.encode(redis.call('HGETALL', key)))
  return true
end

local result = {}
local lost = redis.call('ZRANGEBYSCORE', NAME.worker_runs, '-inf', ARGV[1],
  'LIMIT', 0, tonumber(ARGV[3]))
for _, run in ipairs(lost) do
  local jobs = NAME.worker_jobs .. run
  local handed = {}
  for _, job_id in ipairs(redis.call('SMEMBERS', jobs)) do
    local key = NAME.job .. job_id
    local job = redis.call('HMGET', key, 'status', 'worker_run', 'delivery_tag', 'function')
    if job[1] == 'STARTED' and job[2] == run and job[3] and hand_back(job_id, run, key, job[3]) then
      table.insert(handed, job_id)
      table.insert(handed, job[4] or 'unknown')
    end
  end
  redis.call('DEL', jobs)
  redis.call('ZREM', NAME.worker_runs, run)
  table.insert(result, run)
  table.insert(result, #handed / 2)
  for _, item in ipairs(handed) do
    table.insert(result, item)
  end
end
return result
