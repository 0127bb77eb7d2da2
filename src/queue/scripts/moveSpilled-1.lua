--[[
  Compaction of a mostly dead spill file: objects copied to a new file are
  pointed there, if they are still where the copy was made from (one freed
  meanwhile is left alone; its copy is dead bytes).

  Input:
    KEYS[1] <prefix>:spill:live (declared, as in spillObjects)
    ARGV[1] key prefix
    ARGV[2] old file, ARGV[3] new file
    ARGV[4..] triples: object id, old "offset:length", new offset

  Output:
    { objects moved, bytes moved }
]]
--- @include "objects"
local prefix, old, new = ARGV[1], ARGV[2], ARGV[3]
local moved, bytes = 0, 0
for i = 4, #ARGV, 3 do
  local graph, field = splitOid(ARGV[i])
  local base = graph and graphBase(prefix, graph)
  if base and redis.call('HGET', base .. 'spilled', field) == old .. ':' .. ARGV[i + 1] then
    local length = tonumber(string.match(ARGV[i + 1], ':(%d+)$'))
    redis.call('HSET', base .. 'spilled', field, new .. ':' .. ARGV[i + 2] .. ':' .. length)
    redis.call('HDEL', prefix .. ':spill:index:' .. old, ARGV[i])
    redis.call('HSET', prefix .. ':spill:index:' .. new, ARGV[i], ARGV[i + 2] .. ':' .. length)
    moved = moved + 1
    bytes = bytes + length
  end
end
redis.call('HINCRBY', KEYS[1], old, -bytes)
redis.call('HINCRBY', KEYS[1], new, bytes)
return { moved, bytes }
