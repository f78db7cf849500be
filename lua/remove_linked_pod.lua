-- remove linked pod, and remove linked pod with id (when ARGV[3] is given).
-- KEYS[1] uid hash, KEYS[2] link key
-- ARGV[1] service, ARGV[2] keep_seconds (-1 or 0: delete now; N > 0: keep as a temporary link
-- expiring in N seconds, so a user who comes back soon returns to the same pod),
-- ARGV[3] optional: remove only when the link currently points to this pod.
-- Reply: 1 when a link existed and was removed, 0 otherwise (then nothing changed).
local current = stored_pod(KEYS[2], redis.call('GET', KEYS[2]))
if ARGV[3] and current ~= tonumber(ARGV[3]) then
  return 0
end
check_uid_hash(KEYS[1])
local listed = redis.call('HDEL', KEYS[1], ARGV[1])
local keep_seconds = tonumber(ARGV[2])
if keep_seconds > 0 then
  if current then
    redis.call('EXPIRE', KEYS[2], keep_seconds)
  end
else
  redis.call('DEL', KEYS[2])
end
if current or listed == 1 then
  return 1
end
return 0
