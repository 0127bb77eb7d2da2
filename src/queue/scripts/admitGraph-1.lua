--[[
  Admits a new graph of a tenant if the tenant has fewer than the limit
  queued or running; finishGraph takes graphs out again. Ids of graphs that
  ended without that (their API died while registering them) are pruned when
  the limit is reached. A graph of data alone is never admitted: it is done
  once registered.

  Input:
    KEYS[1] the tenant's in-flight set
    ARGV[1] limit, ARGV[2] graph id, ARGV[3] key prefix

  Output: 1 admitted, 0 the tenant is at its limit.
]]
local limit = tonumber(ARGV[1])
if redis.call('SCARD', KEYS[1]) >= limit then
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    local status = redis.call('HGET', ARGV[3] .. ':{' .. id .. '}:meta', 'status')
    if status ~= 'queued' and status ~= 'running' then redis.call('SREM', KEYS[1], id) end
  end
  if redis.call('SCARD', KEYS[1]) >= limit then return 0 end
end
redis.call('SADD', KEYS[1], ARGV[2])
return 1
