-- Objects of other graphs. An object id is `<graph>.<field>`; its value is
-- that field of `<prefix>:{<graph>}:vals` (a node index, or "<index>:<j>"
-- for output j of a multiple-return node). Every key of a graph is named
-- from its base `<prefix>:{<graph>}:` (all in one Redis Cluster slot).
--
--   pins      node -> number of running graphs that use the object
--   released  set of output nodes a client released (gone for clients,
--             kept while pinned)
--   waiters   node -> "graph task;graph task;..." tasks of other graphs
--             waiting for the object (see linkObjects)

--- @include "store"
local ENDED = { done = true, failed = true, cancelled = true }

local function graphBase(prefix, graph)
  return prefix .. ':{' .. graph .. '}:'
end

local function splitOid(oid)
  return string.match(oid, '^(.+)%.([%d:]+)$')
end

local function isOutput(base, node)
  local outidx = redis.call('HGET', base .. 'meta', 'outidx') or ''
  return string.find(',' .. outidx .. ',', ',' .. node .. ',', 1, true) ~= nil
end

-- Deletes a graph whose every output was released, once it has ended and no
-- other graph uses its objects.
local function dropIfReleased(base)
  local meta = base .. 'meta'
  if not ENDED[redis.call('HGET', meta, 'status') or 'done'] then return end
  local outputs = 0
  for _ in string.gmatch(redis.call('HGET', meta, 'outidx') or '', '[^,]+') do outputs = outputs + 1 end
  if redis.call('SCARD', base .. 'released') >= outputs and redis.call('HLEN', base .. 'pins') == 0 then
    freeSpilled(prefixOf(meta), base)
    redis.call('UNLINK', meta, base .. 'vals', base .. 'pins', base .. 'released', base .. 'waiters', base .. 'spilled', base .. 'events', base .. 'staged')
  end
end

-- Frees a released object once nothing pins it.
local function freeIfReleased(base, node)
  if (tonumber(redis.call('HGET', base .. 'pins', node)) or 0) > 0 then return end
  if redis.call('SISMEMBER', base .. 'released', node) == 1 and ENDED[redis.call('HGET', base .. 'meta', 'status') or 'done'] then
    freeValue(prefixOf(base .. 'meta'), base, node)
  end
end

local function unpinObject(prefix, oid)
  local graph, node = splitOid(oid)
  if not graph then return end
  local base = graphBase(prefix, graph)
  if redis.call('HINCRBY', base .. 'pins', node, -1) <= 0 then
    redis.call('HDEL', base .. 'pins', node)
    freeIfReleased(base, node)
    dropIfReleased(base)
  end
end
