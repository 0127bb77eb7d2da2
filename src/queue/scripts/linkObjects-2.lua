--[[
  Links a newly registered graph to the objects of other graphs it uses
  ({"$oid"} inputs). Each task of it starts with one pending count per
  distinct object it uses; here, atomically with the object's producer:
  a ready object is pinned and its count dropped; a pending one is pinned and
  the task is added to its waiters (completeTasks counts it down when the
  object is stored). Pinned objects are not freed by a release until the
  graph ends (finishGraph unpins them).

  Input:
    KEYS[1] meta, KEYS[2] pend  of the new graph
    ARGV[1] key prefix
    ARGV[2..] groups: object id, number of tasks n, n task indexes

  Output:
    { 'ok', ready task index... }
    { 'missing', oid }             no such object (or released, or not an output)
    { 'failed', oid, error JSON }  the object's graph failed or was cancelled
]]
--- @include "objects"
local graph = graphOf(KEYS[1])
local ready = { 'ok' }
local pinned = {}
local i = 2
while i <= #ARGV do
  local oid, n = ARGV[i], tonumber(ARGV[i + 1])
  local other, node = splitOid(oid)
  local base = other and graphBase(ARGV[1], other)
  local status = base and redis.call('HGET', base .. 'meta', 'status')
  if not status or redis.call('SISMEMBER', base .. 'released', node) == 1 or not isOutput(base, node) then
    return { 'missing', oid }
  end
  if redis.call('HEXISTS', base .. 'vals', node) == 1 then
    for j = 1, n do
      local task = ARGV[i + 1 + j]
      if redis.call('HINCRBY', KEYS[2], task, -1) <= 0 then
        redis.call('HDEL', KEYS[2], task)
        ready[#ready + 1] = tonumber(task)
      end
    end
  elseif status == 'queued' or status == 'running' then
    local list = {}
    for j = 1, n do list[#list + 1] = graph .. ' ' .. ARGV[i + 1 + j] end
    local prev = redis.call('HGET', base .. 'waiters', node)
    redis.call('HSET', base .. 'waiters', node, (prev and (prev .. ';') or '') .. table.concat(list, ';'))
    redis.call('HSET', base .. 'meta', 'waited', 1)
  else
    return { 'failed', oid, redis.call('HGET', base .. 'meta', 'error') or 'null' }
  end
  redis.call('HINCRBY', base .. 'pins', node, 1)
  pinned[#pinned + 1] = oid
  redis.call('HSET', KEYS[1], 'ext', table.concat(pinned, ','))
  i = i + 2 + n
end
return ready
