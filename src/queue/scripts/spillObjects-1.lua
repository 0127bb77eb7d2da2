--[[
  Swaps values that a worker has written to a spill file for 1-byte stubs
  (the store's memory is over its threshold). A value is swapped only if it is
  still the one written (same length, not already a stub): one freed or
  changed meanwhile stays as it is, and its copy in the file is dead bytes.

  Input:
    KEYS[1] <prefix>:spill:live (a declared key, so Redis Cluster routes the
            call to the node of the prefix's slot)
    ARGV[1] key prefix
    ARGV[2] spill file name (relative to SPILL_DIR)
    ARGV[3..] triples: object id, offset in the file, length

  Output:
    { objects swapped, bytes swapped }
]]
--- @include "objects"
local prefix, file = ARGV[1], ARGV[2]
local swapped, bytes = 0, 0
for i = 3, #ARGV, 3 do
  local graph, field = splitOid(ARGV[i])
  local offset, length = ARGV[i + 1], tonumber(ARGV[i + 2])
  local base = graph and graphBase(prefix, graph)
  if base and length > 1 and redis.call('HSTRLEN', base .. 'vals', field) == length then
    redis.call('HSET', base .. 'vals', field, STUB)
    redis.call('HSET', base .. 'spilled', field, file .. ':' .. offset .. ':' .. length)
    redis.call('HSET', prefix .. ':spill:index:' .. file, ARGV[i], offset .. ':' .. length)
    swapped = swapped + 1
    bytes = bytes + length
  end
end
if swapped > 0 then
  redis.call('HINCRBY', KEYS[1], file, bytes)
  redis.call('HINCRBY', prefix .. ':stats', 'spilled_bytes', bytes)
  redis.call('HINCRBY', prefix .. ':stats', 'spilled_objects', swapped)
  redis.call('HINCRBY', prefix .. ':stats', 'spill_bytes_total', bytes)
  redis.call('HINCRBY', prefix .. ':stats', 'spill_objects_total', swapped)
end
return { swapped, bytes }
