-- KEYS[1] bucket; ARGV[1] now, ARGV[2] rate per second, ARGV[3] burst
return take_token(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
