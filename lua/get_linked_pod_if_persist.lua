-- get linked pod if persist: the link only when it has no TTL (read-only; a script so that the
-- value and its TTL are read atomically in one round trip).
-- KEYS[1] uid hash (unused, passed so every link script has the same keys), KEYS[2] link key
-- Reply: the pod, or -1 when there is no link or the link is temporary.
local current = stored_pod(KEYS[2], redis.call('GET', KEYS[2]))
if current and is_persistent(KEYS[2]) then
  return current
end
return -1
