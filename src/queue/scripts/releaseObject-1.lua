--[[
  Releases an object (DELETE /v1/objects/{oid}): clients can no longer read
  it. Its bytes are freed now, or, while a running graph uses it (pinned) or
  its own graph still runs, as soon as that ends. A graph whose outputs are
  all released is deleted.

  Input:
    KEYS[1] meta of the object's graph
    ARGV[1] node index

  Output:
    1  released
    0  no such object (never existed, already released, or not an output)
]]
--- @include "objects"
loadStoreConfig(prefixOf(KEYS[1]))
local base = string.sub(KEYS[1], 1, -5)
local node = ARGV[1]
if not redis.call('HGET', KEYS[1], 'status') or not isOutput(base, node) then return 0 end
if redis.call('SADD', base .. 'released', node) == 0 then return 0 end
freeIfReleased(base, node)
dropIfReleased(base)
return 1
