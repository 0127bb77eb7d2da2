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

  Output:
    { 1 }          the graph ended now
    { 0, status }  it had already ended (or does not exist): nothing changed

  Events: publishes the graph id on ARGV[3].
]]
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'running' then
  return { 0, status or 'missing' }
end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'error', ARGV[2], 'running', 0, 'finished', t[1] * 1000 + math.floor(t[2] / 1000))
redis.call('UNLINK', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
local keep = {}
for idx in string.gmatch(redis.call('HGET', KEYS[1], 'outidx') or '', '%d+') do keep[idx] = true end
local fields = redis.call('HKEYS', KEYS[6])
for i = 1, #fields do
  if not keep[fields[i]] then redis.call('HDEL', KEYS[6], fields[i]) end
end
local ttl = tonumber(redis.call('HGET', KEYS[1], 'ttl') or '0')
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[6], ttl)
end
redis.call('PUBLISH', ARGV[3], string.match(KEYS[1], '{(.*)}'))
return { 1 }
