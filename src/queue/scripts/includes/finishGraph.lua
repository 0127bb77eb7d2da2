-- Output values of a done graph that ride on its finish notification: the
-- API waiting for the graph answers from them without reading it again (a
-- round trip fewer for each small compute). At most this many bytes together,
-- of at most this many outputs.
local NOTIFIED_OUTCOME_BYTES = 16384
local NOTIFIED_OUTCOME_VALUES = 256

local function uint32(n)
  return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end

-- '\n', the number of output values (4 bytes, big-endian), then each as its
-- length and stored bytes, in `outidx` order (src/queue/finished.ts reads it);
-- '' when one is not in Redis as itself (on disk, or freed) or they are too big.
local function notifiedOutcome(meta, vals)
  local fields = {}
  for field in string.gmatch(redis.call('HGET', meta, 'outidx') or '', '[^,]+') do
    fields[#fields + 1] = field
    if #fields > NOTIFIED_OUTCOME_VALUES then return '' end
  end
  local values = #fields > 0 and redis.call('HMGET', vals, unpack(fields)) or {}
  local parts = { '\n', uint32(#values) }
  local size = 0
  for i = 1, #values do
    local v = values[i]
    if not v or string.byte(v, 1) == 0xC1 then return '' end
    size = size + #v
    if size > NOTIFIED_OUTCOME_BYTES then return '' end
    parts[#parts + 1] = uint32(#v)
    parts[#parts + 1] = v
  end
  return table.concat(parts)
end

-- Ends a graph (done, failed or cancelled): drops its scheduling state, keeps
-- its outputs (all other values are freed when it failed), unpins the objects
-- of other graphs it used, frees outputs released while it ran, sets the
-- retention time and publishes its id on `channel` (with a done graph's
-- small result: notifiedOutcome).
-- Counts the end in <prefix>:stats (graphs_<status>, and tasks_failed for a
-- task's error) and takes the graph off <prefix>:active (GET /metrics).
-- Returns, when it did not finish done, the tasks of other graphs that were
-- waiting for its outputs, as a list of "graph oid" strings: their graphs
-- must fail too (the caller does it). Adds the finish event (and, for a
-- failed task, its posttask). Needs the objects and events includes.
local function finishGraph(meta, status, errorJson, channel, prefix)
  local base = string.sub(meta, 1, -5)
  local vals = base .. 'vals'
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  redis.call('HSET', meta, 'status', status, 'running', 0, 'finished', now)
  redis.call('SREM', prefix .. ':inflight:' .. (redis.call('HGET', meta, 'tenant') or ''), graphOf(meta))
  if errorJson then
    redis.call('HSET', meta, 'error', errorJson)
    local err = cjson.decode(errorJson)
    if status == 'failed' and type(err) == 'table' and err.key and err.key ~= '' then
      addEvents(meta, 'posttask', now, 1, { k = { err.key }, ok = false, error = err })
      redis.call('HINCRBY', prefix .. ':stats', 'tasks_failed', 1)
    end
  end
  addEvents(meta, 'finish', now, 1, { status = status, error = errorJson and cjson.decode(errorJson) or nil })
  redis.call('HINCRBY', prefix .. ':stats', 'graphs_' .. status, 1)
  redis.call('UNLINK', base .. 'spec', base .. 'pend', base .. 'refs', base .. 'done', base .. 'cls')
  local graph = graphOf(meta)
  redis.call('ZREM', prefix .. ':active', graph)
  local orphans = {}
  if status ~= 'done' then
    local keep = {}
    for field in string.gmatch(redis.call('HGET', meta, 'outidx') or '', '[^,]+') do keep[field] = true end
    local fields = redis.call('HKEYS', vals)
    for i = 1, #fields do
      if not keep[fields[i]] then freeValue(prefix, base, fields[i]) end
    end
    local waiting = redis.call('HGETALL', base .. 'waiters')
    for i = 1, #waiting, 2 do
      for other in string.gmatch(waiting[i + 1], '([^ ;]+) %d+') do
        orphans[#orphans + 1] = other .. ' ' .. graph .. '.' .. waiting[i]
      end
    end
    redis.call('UNLINK', base .. 'waiters')
  end
  local released = redis.call('SMEMBERS', base .. 'released')
  for i = 1, #released do freeIfReleased(base, released[i]) end
  for oid in string.gmatch(redis.call('HGET', meta, 'ext') or '', '[^,]+') do unpinObject(prefix, oid) end
  local ttl = tonumber(redis.call('HGET', meta, 'ttl') or '0')
  if ttl > 0 then
    redis.call('EXPIRE', meta, ttl)
    redis.call('EXPIRE', vals, ttl)
    redis.call('EXPIRE', base .. 'spilled', ttl)
    redis.call('EXPIRE', base .. 'events', ttl)
    redis.call('EXPIRE', base .. 'staged', ttl)
  end
  redis.call('PUBLISH', channel, status == 'done' and graph .. notifiedOutcome(meta, vals) or graph)
  dropIfReleased(base)
  return orphans
end
