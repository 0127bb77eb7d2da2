--[[
  Appends an entry of events to a graph's stream, for events the API writes
  (postsubmit of the first ready tasks, postsubmit_all, finish of a graph
  with no task); the scripts add the others themselves.

  Input:
    KEYS[1] meta of the graph
    ARGV[1] type, ARGV[2] number of events, ARGV[3] details, JSON

  Output: nothing
]]
--- @include "events"
local t = redis.call('TIME')
addEncodedEvents(KEYS[1], ARGV[1], t[1] * 1000 + math.floor(t[2] / 1000), tonumber(ARGV[2]), ARGV[3])
