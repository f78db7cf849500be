-- read with ttl: one read of the client cache (GET or HGETALL) and the key's remaining time to
-- live, atomically, so that a cached answer never outlives its key (read-only).
-- KEYS[1] the key, ARGV[1] 'GET' or 'HGETALL'.
-- Reply: { PTTL of the key (-2: no key, -1: no TTL, else milliseconds), the read's reply }; the
-- TTL first, so that a reader of the plain command's reply can read what follows it unchanged.
if ARGV[1] ~= 'GET' and ARGV[1] ~= 'HGETALL' then
  error({ err = 'ERR read with ttl: ' .. ARGV[1] .. ' is not a cached read' })
end
local value = redis.call(ARGV[1], KEYS[1])
return { redis.call('PTTL', KEYS[1]), value }
