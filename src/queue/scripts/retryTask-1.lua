--[[
  A task's op threw and the task has retries left: it stops counting as
  running and a posttask event says it failed and runs again. The caller
  enqueues it again (with a backoff delay); its done bit was never set, so
  that run starts it as any other.

  Input:
    KEYS[1] meta   graph hash
    ARGV[1] task key, ARGV[2] run time (ms), ARGV[3] worker id,
    ARGV[4] attempt that failed, ARGV[5] the error, JSON

  Output: 1 when the graph still runs (enqueue the retry), 0 when it ended.

  Counts the retry in <prefix>:stats task_retries (GET /metrics).
]]
--- @include "events"
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HINCRBY', KEYS[1], 'running', -1)
redis.call('HINCRBY', string.match(KEYS[1], '^(.*):{') .. ':stats', 'task_retries', 1)
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
addEncodedEvents(KEYS[1], 'posttask', now, 1, '{"k":[' .. cjson.encode(ARGV[1]) .. '],"ms":[' .. ARGV[2] .. '],"w":' .. cjson.encode(ARGV[3]) ..
  ',"a":' .. ARGV[4] .. ',"ok":false,"retry":true,"error":' .. ARGV[5] .. '}')
return 1
