-- touch linked pod: extend a temporary link's TTL only while it points at the pod, so that a
-- gateway keeping an active session alive never overwrites a pod another gateway set meanwhile.
-- KEYS[1] uid hash (unused: a touch never makes a link persistent or temporary, so the hash of
-- persistent links stays as it is; passed so every link script has the same keys), KEYS[2] link
-- ARGV[1] service (unused, for the same reason), ARGV[2] pod, ARGV[3] persist_seconds (> 0)
-- Reply: 1 when the link points at the pod (a temporary link now expires in persist_seconds, a
-- persistent one is left as it is), 0 when it points at another pod or there is none (then
-- nothing changed).
local current = stored_pod(KEYS[2], redis.call('GET', KEYS[2]))
if not current or current ~= tonumber(ARGV[2]) then
  return 0
end
if not is_persistent(KEYS[2]) then
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
end
return 1
