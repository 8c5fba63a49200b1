-- Record a running job's progress report, atomically, and publish the record as a status
-- transition does, so every follower of the job sees it (tasks/jobs/progress.py writes it).
-- KEYS[1] job hash, KEYS[2] event channel
-- ARGV[1] the report as JSON {done, total, message, updated_at} (tasks/jobs/record.py)
-- ARGV[2] "1" for the final report (done == total)
-- ARGV[3] least milliseconds between two job.progress webhooks of the job (the final
-- report makes one regardless)
-- Only while the job is STARTED: never before it starts, never after it ended, never on a
-- missing record (expired or never created), so a late report can change nothing.
-- Returns 1 when written, 0 when refused.
if redis.call('HGET', KEYS[1], 'status') ~= 'STARTED' then
  return 0
end
-- The report's number within the job: followers order events by it
-- (gateway/services/events.py) and each job.progress message is named after it.
local seq = redis.call('HINCRBY', KEYS[1], 'progress_seq', 1)
redis.call('HSET', KEYS[1], 'progress', ARGV[1])
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('HGET', KEYS[1], 'progress_webhook_at') or '')
local webhook = ARGV[2] == '1' or not last or now_ms - last >= tonumber(ARGV[3])
if webhook then
  redis.call('HSET', KEYS[1], 'progress_webhook_at', now_ms)
end
-- The job's event, published where every one is (job_events.lua, prepended).
local record = publish_job(KEYS[1], KEYS[2])
if webhook then
  -- tasks/webhooks/job_deliveries.lua (prepended): only endpoints that named job.progress.
  create_job_deliveries(KEYS[1], record, 'job.progress', 'job.progress|' .. seq, false)
end
return 1
