-- Swap in a new secret, keeping the old one valid for the grace period, atomically (two
-- racing rotations must not lose a secret that was handed out).
-- KEYS[1] the endpoint hash; ARGV[1] new secret, ARGV[2] old one valid until, ARGV[3] now.
-- Returns 0 when the endpoint does not exist.
local old = redis.call('HGET', KEYS[1], 'secret')
if not old then
  return 0
end
redis.call('HSET', KEYS[1], 'secret', ARGV[1], 'previous_secret', old,
  'previous_secret_until', ARGV[2], 'secret_rotated_at', ARGV[3])
return 1
