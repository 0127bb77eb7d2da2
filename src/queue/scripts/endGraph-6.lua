--[[
  Ends a graph that has not finished: it failed (a task threw) or was cancelled.
  Queued tasks of it will find it ended and never start; running ones have
  their results discarded. Intermediate objects are freed now; outputs that
  were computed stay for the retention time.

  Input:
    KEYS[1] meta, KEYS[2] spec, KEYS[3] pend, KEYS[4] refs, KEYS[5] done, KEYS[6] vals
    ARGV[1] new status: 'failed' or 'cancelled'
    ARGV[2] error, JSON
    ARGV[3] channel to publish the graph id on
    ARGV[4] key prefix

  Output:
    { 1, "graph oid"... }   the graph ended now; the strings name graphs
                            that were waiting for one of its outputs (oid):
                            the caller must fail them
    { 0, status }           it had already ended (or does not exist): nothing changed

  Events: publishes the graph id on ARGV[3].
]]
--- @include "objects"
--- @include "events"
--- @include "finishGraph"
loadStoreConfig(ARGV[4])
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'running' then
  return { 0, status or 'missing' }
end
local orphans = finishGraph(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
local out = { 1 }
for i = 1, #orphans do out[#out + 1] = orphans[i] end
return out
