-- A job's filtered listing indexes (prepended to submit.lua and transition.lua): one zset per
-- (tenant, status), per (tenant, function) and per (tenant, status, function), each by
-- creation time like the tenant's main index; the names are tasks/redis/keys.py's
-- job_index_key, composed from the same parts.
local function status_indexes(tenant, status, fn)
  local base = NAME.job_index .. tenant .. NAME.status_index .. status
  return base, base .. NAME.function_index .. fn
end

-- A new job: into its status's and its function's indexes.
local function index_job(tenant, status, fn, created_at, id)
  local by_status, by_both = status_indexes(tenant, status, fn)
  redis.call('ZADD', by_status, created_at, id)
  redis.call('ZADD', by_both, created_at, id)
  redis.call('ZADD', NAME.job_index .. tenant .. NAME.function_index .. fn, created_at, id)
end

-- A status change: out of the old status's indexes, into the new one's. Entries older than
-- `cutoff` (nil: none; their records have expired: every record lives as long from its creation) go
-- from the indexes it adds to, so an index no listing reads still does not grow for ever.
local function reindex_job(tenant, old, new, fn, created_at, id, cutoff)
  local old_status, old_both = status_indexes(tenant, old, fn)
  redis.call('ZREM', old_status, id)
  redis.call('ZREM', old_both, id)
  local new_status, new_both = status_indexes(tenant, new, fn)
  for _, key in ipairs({new_status, new_both}) do
    redis.call('ZADD', key, created_at, id)
    if cutoff then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. cutoff)
    end
  end
end

-- Set a job's status and move it between the listing indexes. Every record lives as long from
-- its creation, so entries created before (created_at - its time left) have expired.
local function set_status(key, current, new)
  redis.call('HSET', key, 'status', new)
  local job = redis.call('HMGET', key, 'id', 'tenant', 'function', 'created_at')
  if job[1] and job[3] and job[4] then
    local left = redis.call('PTTL', key)
    local cutoff = left >= 0 and tonumber(job[4]) - left / 1000 or nil
    reindex_job(job[2] or 'public', current, new, job[3], job[4], job[1], cutoff)
  end
end
