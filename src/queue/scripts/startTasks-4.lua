--[[
  Starts a bundle of tasks of one graph: reports the graph's status and, for
  each task, whether to run it, its spec and its input values.

  Input:
    KEYS[1] meta   graph hash (status, counters)
    KEYS[2] spec   task index -> spec (src/queue/spec.ts)
    KEYS[3] done   bitmap of finished nodes
    KEYS[4] vals   node index -> encoded value
    ARGV[1] key prefix (to find objects of other graphs named by $oid)
    ARGV[2] most input bytes to return (tasks past it are deferred)
    ARGV[3] worker id, ARGV[4] attempt (for the pretask event)
    ARGV[5] the job's fairness tag (dispatch.ts)
    ARGV[6..] task indexes

  Output:
    { status }                              graph is not queued/running: run nothing
    { status, task1, code1, spec1, n1, in1..., task2, ... }
      code 0: run it; n inputs follow (false where an object is missing)
      code 1: already finished (a repeated delivery): nothing follows but n = 0
      code 2: deferred (the reply was full): the caller enqueues it again

  Events: the graph moves from queued to running on its first start; a
  pretask event for the started tasks. Counts them in <prefix>:stats
  tasks_started (GET /metrics).
]]
--- @include "specHeader"
--- @include "store"
--- @include "startTask"
--- @include "events"
local meta = redis.call('HMGET', KEYS[1], 'status', 'big')
local status = meta[1]
if status ~= 'queued' and status ~= 'running' then
  return { status or 'missing' }
end
loadStoreConfig(ARGV[1])
local now = nowMs()
local out = { 'running' }
local tasks = {}
for i = 6, #ARGV do tasks[#tasks + 1] = ARGV[i] end
local keys = startAll(out, tasks, KEYS[2], KEYS[3], KEYS[4], ARGV[1], now, tonumber(ARGV[2]), meta[2] ~= false)
local started = #keys
addEvents(KEYS[1], 'pretask', now, started, { k = keys, w = ARGV[3], a = tonumber(ARGV[4]) })
if status == 'queued' then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[1], 'status', 'running', 'started', t[1] * 1000 + math.floor(t[2] / 1000))
end
if started > 0 then
  redis.call('HINCRBY', KEYS[1], 'running', started)
  redis.call('HINCRBY', ARGV[1] .. ':stats', 'tasks_started', started)
  -- The graph's fairness frontier: the highest tag of its jobs started (dispatch.ts).
  local tag = tonumber(ARGV[5])
  if tag > tonumber(redis.call('HGET', KEYS[1], 'front') or '0') then redis.call('HSET', KEYS[1], 'front', tag) end
end
return out
