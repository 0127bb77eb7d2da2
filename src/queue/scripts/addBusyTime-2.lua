--[[
  Adds a worker's busy periods (spilling or restoring; src/store/busy-time.ts)
  to the cluster's busy time: the length of the union of every worker's
  periods, so two workers writing at the same time count that time once and
  the throughput in GET /v1/stats is what the disks delivered together.

  The periods of the last minute are kept, merged into disjoint ones, to find
  overlaps with periods other workers report later (each reports every few
  seconds); older ones are forgotten, their time already counted.

  Input:
    KEYS[1] <prefix>:stats
    KEYS[2] <prefix>:busy:<kind>, a sorted set of disjoint periods: member
            "start:end", score start (ms since the epoch)
    ARGV[1] the stats field that holds the busy time (ms)
    ARGV[2] forget periods that started before this (ms since the epoch)
    ARGV[3..] pairs: start, end

  Output: the milliseconds added, as a string.
]]
local stats, recent = KEYS[1], KEYS[2]
local field = ARGV[1]
local PAGE = 64
local added = 0

for i = 3, #ARGV, 2 do
  local s, e = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if s and e and e > s then
    local covered, overlapping = 0, {}
    -- Kept periods starting at or before e, latest first; being disjoint,
    -- they end in the same order, so the overlapping ones come first.
    local offset, more = 0, true
    while more do
      local near = redis.call('ZREVRANGEBYSCORE', recent, e, '-inf', 'LIMIT', offset, PAGE)
      more = #near == PAGE
      for _, member in ipairs(near) do
        local ps, pe = string.match(member, '^([^:]+):(.+)$')
        ps, pe = tonumber(ps), tonumber(pe)
        if pe < s then
          more = false
          break
        end
        covered = covered + (pe - ps)
        overlapping[#overlapping + 1] = member
        if ps < s then s = ps end
        if pe > e then e = pe end
      end
      offset = offset + PAGE
    end
    added = added + (e - s) - covered
    if #overlapping > 0 then redis.call('ZREM', recent, unpack(overlapping)) end
    redis.call('ZADD', recent, s, string.format('%.3f:%.3f', s, e))
  end
end

redis.call('ZREMRANGEBYSCORE', recent, '-inf', '(' .. ARGV[2])
if added > 0 then redis.call('HINCRBYFLOAT', stats, field, string.format('%.3f', added)) end
return string.format('%.3f', added)
