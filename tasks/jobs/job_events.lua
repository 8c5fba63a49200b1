-- A job's event (prepended to transition.lua and progress.lua): its whole record, the
-- HGETALL as a flat JSON array, published on its channel and on its tenant's (a live list
-- of the tenant's jobs: GraphQL jobsUpdated). Every event of a job, a status
-- change or a progress report, has this one shape and is published here only
-- (gateway/services/events.py reads it). Returns the JSON: webhook deliveries keep it as
-- their job snapshot.
local function publish_job(job_key, channel)
  local record = cjson.encode(redis.call('HGETALL', job_key))
  redis.call('PUBLISH', channel, record)
  local tenant = redis.call('HGET', job_key, 'tenant') or 'public'
  redis.call('PUBLISH', NAME.tenant_events .. tenant, record)
  return record
end
