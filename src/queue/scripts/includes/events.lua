-- Lifecycle events of a graph (docs/events.md): a stream <base>events with one
-- entry per batch of events of one type:
--   t   type: postsubmit, pretask, posttask, postsubmit_all, finish
--   at  time (ms), s: sequence number of the entry's first event, n: events in it
--   d   JSON details; per-event values are arrays (k: keys, ms, b: bytes)
-- The graph's meta counts events (evseq), so every event has a sequence number.
local function addEncodedEvents(meta, kind, now, count, json)
  if count == 0 then return end
  local seq = redis.call('HINCRBY', meta, 'evseq', count) - count
  redis.call('XADD', string.sub(meta, 1, -5) .. 'events', '*', 't', kind, 'at', now, 's', seq, 'n', count, 'd', json)
end

local function addEvents(meta, kind, now, count, details)
  if count > 0 then addEncodedEvents(meta, kind, now, count, cjson.encode(details)) end
end
