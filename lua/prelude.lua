-- Helpers shared by every script below. Not a script on its own: src/scripts.rs prepends this
-- file to each script at compile time, so each EVALSHA still runs exactly one script.
--
-- Link layout (data-model.md): KEYS[1] = sf:{NS:lk:UID} (hash service -> pod, persistent links
-- only), KEYS[2] = sf:{NS:lk:UID}SVC (string pod; a TTL makes the link temporary).

-- A stored pod ordinal: plain decimal (ASCII digits, no leading zero), at most 2147483647. Anything else is corrupt data and
-- aborts the script before it writes, with an error the library reports as SF_UNEXPECTED_REPLY.
local function stored_pod(key, value)
  if value == false then
    return false
  end
  if #value > 10 or not (value == '0' or string.match(value, '^[1-9]%d*$'))
      or tonumber(value) > 2147483647 then
    error({ err = 'SFCORRUPT key ' .. key .. ' holds ' .. string.format('%q', string.sub(value, 1, 64))
      .. ', which is not a pod ordinal' })
  end
  return tonumber(value)
end

-- The uid hash must be a hash, or absent. Anything else is corrupt data, reported before the
-- script writes: a failing HSET after the SET of the link would leave half a link behind.
local function check_uid_hash(uid_hash)
  local kind = redis.call('TYPE', uid_hash)['ok']
  if kind ~= 'hash' and kind ~= 'none' then
    error({ err = 'SFCORRUPT key ' .. uid_hash .. ' is a ' .. kind .. ', not a hash of links' })
  end
end

-- Writes a link: persistent (persist_seconds == -1) keeps no TTL and is listed in the uid hash;
-- temporary expires after persist_seconds and is removed from the uid hash. The hash is written
-- first: if it holds another type (foreign data), the script fails before writing anything,
-- since Redis does not roll back the writes a failing script already made.
local function write_link(uid_hash, link, service, pod, persist_seconds)
  check_uid_hash(uid_hash)
  if persist_seconds == -1 then
    redis.call('HSET', uid_hash, service, pod)
    redis.call('SET', link, pod)
  else
    redis.call('HDEL', uid_hash, service)
    redis.call('SET', link, pod, 'EX', persist_seconds)
  end
end

-- Whether the link is persistent: it exists and has no TTL.
local function is_persistent(link)
  return redis.call('PTTL', link) == -1
end
