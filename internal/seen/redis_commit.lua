#!lua
-- One commit of the seen state on a shared server (redis.go), atomic:
-- first every condition, then, only if all hold, every write.
--
-- KEYS[1] is the kv hash (declared for cluster routing; every key below
-- shares its hash tag). ARGV[1] is the key prefix "{p}:", ARGV[2..10] the
-- number of entries of each section, then the sections:
--   created:   key, value, before, learning rule field or "", ttl
--   refreshed: key, first or "", last or "", value if absent, ttl
--   rules:     field, value
--   kv sets:   field, value
--   tuple sets: key, value, ttl
--   kv deletes: field
--   tuple deletes: key
--   expire:    key, before
--   alerts:    document
-- Times are 8 bytes, big-endian, sign bit flipped: compared byte by byte.
-- The shebang (Redis 7, Valkey 7) has the server refuse the script up
-- front when it is out of memory (maxmemory with noeviction), rather
-- than at its first write; all reads come before any write anyway.
-- Returns {"ok", first alert seq, expired, commit number, merged rule
-- field, value, ...}
-- or {"conflict", "1" if a rule's coverage moved else "0", key, ...}.

local p = ARGV[1]
local kv, ix = KEYS[1], p .. 'ix'
local n = {}
for i = 1, 9 do n[i] = tonumber(ARGV[i + 1]) end

local function cmp8(x, y)
  for i = 1, 8 do
    local u, v = string.byte(x, i), string.byte(y, i)
    if u ~= v then
      if u < v then return -1 end
      return 1
    end
  end
  return 0
end

local function set(k, v, ttl)
  if ttl ~= '' then
    redis.call('SET', k, v, 'PX', ttl)
  else
    redis.call('SET', k, v)
  end
end

-- The records of the created and refreshed tuples, read with MGET (one
-- call per 1,000 keys: each redis.call from a script costs some
-- microseconds of its own, more than a GET).
local keys, olds = {}, {}
local a = 11
for c = 1, n[1] do keys[#keys + 1] = ARGV[a]; a = a + 5 end
for c = 1, n[2] do keys[#keys + 1] = ARGV[a]; a = a + 5 end
for i = 1, #keys, 1000 do
  local part = redis.call('MGET', unpack(keys, i, math.min(i + 999, #keys)))
  for j = 1, #part do olds[i + j - 1] = part[j] end
end

-- Conditions: a tuple decided new is still new on the server (no record,
-- or last_seen before the event's time minus the window); a learning
-- decision also needs the rule's earliest event after that.
local conflicts, rules, ruleRecs = {}, '0', {}
a = 11
for c = 1, n[1] do
  local k, before, rule = ARGV[a], ARGV[a + 2], ARGV[a + 3]
  local v = olds[c]
  if v and cmp8(string.sub(v, 9, 16), before) >= 0 then
    conflicts[#conflicts + 1] = k
  elseif rule ~= '' then
    local r = ruleRecs[rule]
    if r == nil then
      r = redis.call('HGET', kv, rule)
      ruleRecs[rule] = r
    end
    if r and cmp8(string.sub(r, 1, 8), before) <= 0 then
      conflicts[#conflicts + 1] = k
      rules = '1'
    end
  end
  a = a + 5
end
if #conflicts > 0 then
  local out = {'conflict', rules}
  for i = 1, #conflicts do out[#out + 1] = conflicts[i] end
  return out
end

a = 11
for c = 1, n[1] do
  set(ARGV[a], ARGV[a + 1], ARGV[a + 4])
  a = a + 5
end
for c = 1, n[2] do
  local k, f, l, v, ttl = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local old = olds[n[1] + c]
  if old then
    local of, ol = string.sub(old, 1, 8), string.sub(old, 9, 16)
    if f ~= '' and cmp8(f, of) < 0 then of = f end
    if l ~= '' and cmp8(l, ol) > 0 then ol = l end
    v = of .. ol .. string.sub(old, 17)
  end
  set(k, v, ttl)
  a = a + 5
end
local unset = string.rep('\0', 8) -- noTime, flipped
local merged = {}
for c = 1, n[3] do
  local f, v = ARGV[a], ARGV[a + 1]
  local old = redis.call('HGET', kv, f)
  if old then
    local e, h = string.sub(v, 1, 8), string.sub(v, 9, 16)
    local oe, oh = string.sub(old, 1, 8), string.sub(old, 9, 16)
    if oe ~= unset and (e == unset or cmp8(oe, e) < 0) then e = oe end
    if cmp8(oh, h) > 0 then h = oh end
    v = e .. h .. string.sub(v, 17)
  end
  redis.call('HSET', kv, f, v)
  redis.call('ZADD', ix, 0, f)
  merged[#merged + 1] = f
  merged[#merged + 1] = v
  a = a + 2
end
for c = 1, n[4] do
  redis.call('HSET', kv, ARGV[a], ARGV[a + 1])
  redis.call('ZADD', ix, 0, ARGV[a])
  a = a + 2
end
for c = 1, n[5] do
  set(ARGV[a], ARGV[a + 1], ARGV[a + 2])
  a = a + 3
end
for c = 1, n[6] do
  redis.call('HDEL', kv, ARGV[a])
  redis.call('ZREM', ix, ARGV[a])
  a = a + 1
end
for c = 1, n[7] do
  redis.call('DEL', ARGV[a])
  a = a + 1
end
local expired = 0
for c = 1, n[8] do
  local v = redis.call('GET', ARGV[a])
  if v and cmp8(string.sub(v, 9, 16), ARGV[a + 1]) < 0 then
    redis.call('DEL', ARGV[a])
    expired = expired + 1
  end
  a = a + 2
end
local first = 0
if n[9] > 0 then
  local last = redis.call('INCRBY', p .. 'oseq', n[9])
  first = last - n[9] + 1
  local size = 0
  for c = 1, n[9] do
    local seq, key = first + c - 1, {}
    for j = 8, 1, -1 do
      key[j] = string.char(seq % 256)
      seq = math.floor(seq / 256)
    end
    key = 'o' .. table.concat(key)
    redis.call('HSET', kv, key, ARGV[a])
    redis.call('ZADD', ix, 0, key)
    size = size + #ARGV[a]
    a = a + 1
  end
  redis.call('INCRBY', p .. 'ocount', n[9])
  redis.call('INCRBY', p .. 'obytes', size)
end
local commit = redis.call('INCR', p .. 'commits')
local out = {'ok', tostring(first), tostring(expired), tostring(commit)}
for i = 1, #merged do out[#out + 1] = merged[i] end
return out
