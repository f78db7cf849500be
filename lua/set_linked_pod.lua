-- set linked pod: atomically read the previous link and write the new one.
-- KEYS[1] uid hash, KEYS[2] link key
-- ARGV[1] service, ARGV[2] pod, ARGV[3] persist_seconds (-1 persistent, N > 0 temporary)
-- Reply: the previous pod, or -1 when there was no link.
local previous = stored_pod(KEYS[2], redis.call('GET', KEYS[2]))
write_link(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))
return previous or -1
