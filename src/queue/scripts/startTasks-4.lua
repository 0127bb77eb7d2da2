--[[
  Starts a bundle of tasks of one graph: reports the graph's status and, for
  each task, whether to run it, its spec and its input values.

  Input:
    KEYS[1] meta   graph hash (status, counters)
    KEYS[2] spec   task index -> spec (src/queue/spec.ts)
    KEYS[3] done   bitmap of finished nodes
    KEYS[4] vals   node index -> encoded value
    ARGV[1] key prefix (to find objects of other graphs named by $oid)
    ARGV[2..] task indexes

  Output:
    { status }                              graph is not queued/running: run nothing
    { status, code1, spec1, n1, in1..., code2, ... }
      code 0: run it; n inputs follow (false where an object is missing)
      code 1: already finished (a repeated delivery): nothing follows but n = 0

  Events: the graph moves from queued to running on its first start.
]]
--- @include "specHeader"
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'running' then
  return { status or 'missing' }
end
local prefix = ARGV[1]
local out = { 'running' }
local started = 0
for i = 2, #ARGV do
  local idx = ARGV[i]
  if redis.call('GETBIT', KEYS[3], idx) == 1 then
    out[#out + 1] = 1
    out[#out + 1] = ''
    out[#out + 1] = 0
  else
    local spec = redis.call('HGET', KEYS[2], idx)
    local deps = specHeader(spec)[2]
    out[#out + 1] = 0
    out[#out + 1] = spec
    out[#out + 1] = #deps
    for j = 1, #deps do
      local d = deps[j]
      if type(d) == 'number' then
        out[#out + 1] = redis.call('HGET', KEYS[4], d)
      else
        local gid, node = string.match(d, '^(.+)%.(%d+)$')
        if gid then
          out[#out + 1] = redis.call('HGET', prefix .. ':{' .. gid .. '}:vals', node)
        else
          out[#out + 1] = false
        end
      end
    end
    started = started + 1
  end
end
if status == 'queued' then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[1], 'status', 'running', 'started', t[1] * 1000 + math.floor(t[2] / 1000))
end
if started > 0 then redis.call('HINCRBY', KEYS[1], 'running', started) end
return out
