--[[
  Opens a graph's registration: writes its meta and lists it, after admitting
  it when asked (the admission include), so a graph registered in one chunk
  costs one round trip, not two. The rest of its registration follows in the
  same chunk of commands whatever this answers: on 0 the API deletes what that wrote,
  and its jobs find no graph (startTasks answers 'missing': nothing runs).

  Input:
    KEYS[1] meta of the graph
    KEYS[2] the tenant's in-flight set
    KEYS[3] the list of graphs (id -> created)
    KEYS[4] the active graphs (id -> created)
    ARGV[1] admission limit, or '' when the graph needs none (data alone, or admitted already)
    ARGV[2] graph id, ARGV[3] key prefix, ARGV[4] created (ms)
    ARGV[5] most graphs the list keeps
    ARGV[6] 1 when the graph is active (it has tasks)
    ARGV[7] 1 to count it in stats graphs_submitted (a graph written in one chunk)
    ARGV[8..] meta field, value, ...

  Output: 1 opened, 0 refused (the tenant is at its limit): nothing written.
]]
--- @include "admission"
if ARGV[1] ~= '' and not admitGraph(KEYS[2], tonumber(ARGV[1]), ARGV[2], ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -tonumber(ARGV[5]) - 1)
if ARGV[6] == '1' then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[2]) end
if ARGV[7] == '1' then redis.call('HINCRBY', ARGV[3] .. ':stats', 'graphs_submitted', 1) end
return 1
