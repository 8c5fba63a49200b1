-- Register an endpoint, unless its tenant has one for the same URL already or has as many
-- as it may: one check and one write, so two racing registrations of a URL make one
-- endpoint (URLs arrive canonical: tasks/webhooks/ssrf.py).
-- KEYS[1] the tenant's endpoint set, KEYS[2] the new endpoint's hash; ARGV[1] most
-- endpoints per tenant, ARGV[2] the new id, ARGV[3] its URL, ARGV[4..] its fields, name
-- then value. Returns {'ok'}, {'exists', the existing endpoint's id} or {'full'}.
local ids = redis.call('SMEMBERS', KEYS[1])
for _, id in ipairs(ids) do
  if redis.call('HGET', NAME.endpoint .. id, 'url') == ARGV[3] then
    return {'exists', id}
  end
end
if #ids >= tonumber(ARGV[1]) then
  return {'full'}
end
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('SADD', KEYS[1], ARGV[2])
return {'ok'}
