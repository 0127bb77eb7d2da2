--[[
  Lineage: the spec and inputs of a task of a running graph, read without
  changing anything, for a worker to compute the task's value again when a
  consumer finds it lost (its key deleted, its spill file gone).

  Input:
    KEYS[1] meta, KEYS[2] spec
    ARGV[1] key prefix, ARGV[2] task index

  Output:
    { }                                the graph ended, or the node is no task
    { spec, n, input1..inputn }        inputs as startTask gives them
]]
--- @include "specHeader"
--- @include "store"
--- @include "startTask"
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'running' and status ~= 'queued' then return {} end
local spec = redis.call('HGET', KEYS[2], ARGV[2])
if not spec then return {} end
loadStoreConfig(ARGV[1])
local base = string.sub(KEYS[2], 1, -5)
local out = { spec }
appendInputs(out, specHeader(spec)[SPEC.deps], base, graphOf(base), ARGV[1], nowMs(), { left = 0, big = true })
return out
