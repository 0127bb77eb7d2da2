--[[
  Admits a new graph of a tenant if the tenant has fewer than the limit
  queued or running (the admission include). Used when a graph must hold its
  admission before it is registered (a presubmit hook or the result cache is
  asked first, or the graph is written in several chunks); openGraph admits
  any other graph as its registration starts. A graph of data alone is never
  admitted: it is done once registered.

  Input:
    KEYS[1] the tenant's in-flight set
    ARGV[1] limit, ARGV[2] graph id, ARGV[3] key prefix

  Output: 1 admitted, 0 the tenant is at its limit.
]]
--- @include "admission"
if admitGraph(KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]) then return 1 end
return 0
