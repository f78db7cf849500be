-- try set linked pod: refuse only when a persistent link to a different pod exists.
-- KEYS[1] uid hash, KEYS[2] link key
-- ARGV[1] service, ARGV[2] pod, ARGV[3] persist_seconds (-1 persistent, N > 0 temporary)
-- Reply: {1, pod} when the link was written, {0, current pod} when refused (nothing changed).
local current = stored_pod(KEYS[2], redis.call('GET', KEYS[2]))
local pod = tonumber(ARGV[2])
if current and current ~= pod and is_persistent(KEYS[2]) then
  return { 0, current }
end
write_link(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))
return { 1, pod }
