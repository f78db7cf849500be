-- set linked pod if absent: write only when no link (persistent or temporary) exists.
-- Also serves compute linked pod: the library picks the least-loaded candidate and sends it here.
-- KEYS[1] uid hash, KEYS[2] link key
-- ARGV[1] service, ARGV[2] pod, ARGV[3] persist_seconds (-1 persistent, N > 0 temporary)
-- Reply: the pod now linked: the existing one, or ARGV[2] when this call wrote it.
local current = stored_pod(KEYS[2], redis.call('GET', KEYS[2]))
if current then
  return current
end
write_link(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))
return tonumber(ARGV[2])
