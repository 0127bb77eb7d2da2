-- A tenant's room for one more graph (WEFT_MAX_GRAPHS_IN_FLIGHT): admits graph
-- `id` into the tenant's in-flight set unless it already holds `limit` graphs
-- queued or running. finishGraph takes graphs out again; ids of graphs that
-- ended without that (their API died while registering them) are pruned when
-- the limit is reached. Returns true when admitted.
local function admitGraph(inflight, limit, id, prefix)
  if redis.call('SCARD', inflight) >= limit then
    for _, other in ipairs(redis.call('SMEMBERS', inflight)) do
      local status = redis.call('HGET', prefix .. ':{' .. other .. '}:meta', 'status')
      if status ~= 'queued' and status ~= 'running' then redis.call('SREM', inflight, other) end
    end
    if redis.call('SCARD', inflight) >= limit then return false end
  end
  redis.call('SADD', inflight, id)
  return true
end
