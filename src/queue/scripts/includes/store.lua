-- The object store's bookkeeping (src/store/spill.ts is the disk side).
--   <prefix>:lru          sorted set: object id -> last use (ms), for values of
--                         at least spillmin bytes: the spill candidates, oldest first
--   <prefix>:store        hash: spillmin (written by workers from SPILL_MIN_BYTES)
--   <prefix>:spill:live   hash: spill file -> bytes of live objects in it
--   <prefix>:stats        hash: spilled_bytes, spilled_objects (on disk now),
--                         spill_bytes_total, restored_bytes_total, ...
--   <base>spilled         hash: field -> "file:offset:length" of a value on disk;
--                         its vals field then holds the 1-byte stub STUB
--   <prefix>:spill:index:<file>  hash: object id -> "offset:length", the live
--                         objects of a spill file (to compact it)
local STUB = '\193'
local SPILL_MIN = 1024
-- Inputs longer than this come back from readValue as a reference
-- (REFERENCE .. field .. '@' .. hash key) that the worker reads with a plain
-- HGET: a value copied through Lua costs Redis about three times what HGET
-- does (two copies instead of one). 0: every value inline (set by workers
-- from INLINE_MAX_BYTES, src/queue/tasks.ts).
local INLINE_MAX = 0
local REFERENCE = '\193@'

local function prefixOf(key)
  return string.match(key, '^(.*):{')
end

-- The graph id of a graph's key `<prefix>:{<graph>}:<name>` (or its base).
-- The last {...}: on Redis Cluster the prefix is a hash tag itself, {weft}.
local function graphOf(key)
  return string.match(key, '{([^{}]*)}[^{}]*$')
end

local function loadStoreConfig(prefix)
  local config = redis.call('HMGET', prefix .. ':store', 'spillmin', 'inlinemax')
  SPILL_MIN = tonumber(config[1] or '1024')
  INLINE_MAX = tonumber(config[2] or '0')
end

local function nowMs()
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end

--   <base>meta big      set once the graph stores a value of SPILL_MIN bytes
-- A value was stored or read: big ones are spill candidates, by last use.
-- The object id is `graph .. '.' .. field`, built only for those.
local function touchValue(prefix, graph, field, length, stored, now)
  if length >= SPILL_MIN then
    local oid = graph .. '.' .. field
    if stored then
      redis.call('ZADD', prefix .. ':lru', now, oid)
    else
      redis.call('ZADD', prefix .. ':lru', 'XX', now, oid)
    end
  end
end

-- Reads a value for a task: a spilled one comes back as STUB followed by its
-- location, one over INLINE_MAX as a reference (see INLINE_MAX). Also returns
-- the value's length (a reference's is the value's). `mayBeLarge` false
-- skips the length check: the graph never stored a value of SPILL_MIN bytes
-- (its meta field `big`), so nothing of it can be over INLINE_MAX either.
local function readValue(prefix, base, graph, field, now, mayBeLarge)
  if mayBeLarge and INLINE_MAX > 0 then
    local length = redis.call('HSTRLEN', base .. 'vals', field)
    if length > INLINE_MAX then
      touchValue(prefix, graph, field, length, false, now)
      return REFERENCE .. field .. '@' .. base .. 'vals', length
    end
  end
  local value = redis.call('HGET', base .. 'vals', field)
  if value == STUB then
    local at = redis.call('HGET', base .. 'spilled', field)
    if at then return STUB .. at, 1 end
  end
  if value then touchValue(prefix, graph, field, #value, false, now) end
  return value, value and #value or 0
end

-- Deletes a value, in memory or on disk, keeping the counters right.
-- `small`: the graph has never stored a value of SPILL_MIN bytes (meta field
-- `big`), so nothing of it is tracked or spilled and a plain delete will do.
local function freeValue(prefix, base, field, small)
  if small then
    redis.call('HDEL', base .. 'vals', field)
    return
  end
  local len = redis.call('HSTRLEN', base .. 'vals', field)
  if len == 0 then return end
  if len == 1 then
    local at = redis.call('HGET', base .. 'spilled', field)
    if at then
      local file, size = string.match(at, '^(.*):%d+:(%d+)$')
      redis.call('HINCRBY', prefix .. ':spill:live', file, -tonumber(size))
      redis.call('HDEL', prefix .. ':spill:index:' .. file, graphOf(base) .. '.' .. field)
      redis.call('HINCRBY', prefix .. ':stats', 'spilled_bytes', -tonumber(size))
      redis.call('HINCRBY', prefix .. ':stats', 'spilled_objects', -1)
      redis.call('HDEL', base .. 'spilled', field)
    end
  elseif len >= SPILL_MIN then
    redis.call('ZREM', prefix .. ':lru', graphOf(base) .. '.' .. field)
  end
  redis.call('HDEL', base .. 'vals', field)
end

-- Frees every spilled value of a graph whose values are about to go at once.
local function freeSpilled(prefix, base)
  local spilled = redis.call('HKEYS', base .. 'spilled')
  for i = 1, #spilled do freeValue(prefix, base, spilled[i]) end
end
