-- Ends a graph (done, failed or cancelled): drops its scheduling state, keeps
-- its outputs (all other values are freed when it failed), unpins the objects
-- of other graphs it used, frees outputs released while it ran, sets the
-- retention time and publishes its id on `channel`.
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
  redis.call('PUBLISH', channel, graph)
  dropIfReleased(base)
  return orphans
end
