--[[
  Finishes a bundle of tasks: stores each result as an object, marks the task
  done, counts down its dependents (collecting those that become ready) and
  frees inputs that no remaining task needs. When the last task finishes, the
  graph is done: its scheduling state is dropped, its outputs kept for the
  graph's retention time, and the finish is published.

  A task already marked done (a repeated delivery after a worker was lost, or
  this very call sent again after Redis restarted and its first reply was
  lost) is skipped entirely, so the first result written wins and nothing is
  counted twice. Skipped tasks are returned: what the first completion made
  ready may be queued nowhere (findLostTasks finds it).

  Of the tasks that became ready, the first bundle (sized as
  src/queue/dispatch.ts `bundle` sizes them, at most ARGV[3]) is started at
  once for the calling worker to continue with, saving it a round trip.

  Input:
    KEYS[1] meta, KEYS[2] spec, KEYS[3] pend, KEYS[4] refs, KEYS[5] done, KEYS[6] vals
    ARGV[1] channel to publish the graph id on when it ends
    ARGV[2] key prefix (to find objects of other graphs named by $oid)
    ARGV[3] most ready tasks to start for the caller (0: none)
    ARGV[4] bundle spread (see dispatch.ts)
    ARGV[5] most input bytes to return for the started tasks (see startTask)
    ARGV[6] worker id, ARGV[7] attempt (for the events)
    ARGV[8] the pools the caller serves, as ",pool,pool,"
    ARGV[9..] groups: task index, run time (ms), number of values n, n encoded
              values (n is 1, or the task's `returns`: value j is output j).
              A value over INLINE_MAX_BYTES comes written already: the caller
              wrote it to its own field of vals with HSETNX, and its run's token to
              the same field of the graph's `staged` hash (HSETNX, sent with it),
              just before; the argument is then 0xC1 '=' w token ':' field, w '1'
              when the value was written ('0': the field held one already). The
              completion takes what the field holds (this run's value, or a value
              another run of the same task wrote first) and clears `staged`; a
              task done already, or a graph that has ended, drops the value only
              when this run wrote it and `staged` still names this run (nothing
              took it), and clears this run's mark. Through a script's
              arguments a 64 MiB value takes Redis about twice as long (120 against
              240 ms), and moving it inside a script as long again.

  Tasks of other graphs waiting for a finished node (a pending $oid, see
  linkObjects) are counted down too; those that became ready are returned.

  Output:
    { status }                        the graph had already ended: nothing written
    { status, front, classed, n, ready index x n, [class x n if classed], m, (graph, index) x m, s, skipped index x s, started... }
      status is 'running' or 'done'; front is the graph's fairness frontier
      (the tag its ready tasks continue from, see dispatch.ts); the n ready tasks are for
      the queue, with their classes ("pool|priority", "" for the default)
      when the graph has any (classed = 1);
      the m pairs are ready tasks of other graphs, for the queue too;
      the s skipped tasks were done already;
      `started` is as startTasks returns it, for the tasks started here

  Events: posttask for the finished tasks, postsubmit for those that became
  ready, pretask for those started here, finish (and the publish of the
  graph id on ARGV[1]) when the graph is done.
  Counts the finished and started tasks in <prefix>:stats tasks_finished and
  tasks_started (GET /metrics): one HINCRBY each per call, not per task.
]]
--- @include "specHeader"
--- @include "store"
--- @include "startTask"
--- @include "objects"
--- @include "events"
--- @include "finishGraph"
local stagedKey = string.sub(KEYS[1], 1, -5) .. 'staged'

-- The token, field and whether this run wrote it, of a value written in advance (see ARGV[9..]), or nil.
local function stagedOf(arg)
  if string.byte(arg, 1) ~= 0xC1 or string.sub(arg, 2, 2) ~= '=' then return nil end
  local wrote, token, field = string.match(arg, '^..([01])([^:]+):(.*)$')
  return token, field, wrote == '1'
end

-- A value written in advance that no completion takes: dropped if this run wrote it and it is still
-- marked as this run's; this run's mark goes either way.
local function dropStaged(arg)
  local token, field, wrote = stagedOf(arg)
  if token and redis.call('HGET', stagedKey, field) == token then
    if wrote then redis.call('HDEL', KEYS[6], field) end
    redis.call('HDEL', stagedKey, field)
  end
end

-- Drops the values written in advance by every group of the call.
local function dropAllStaged()
  local g = 9
  while g <= #ARGV do
    local n = tonumber(ARGV[g + 2])
    for j = 1, n do dropStaged(ARGV[g + 2 + j]) end
    g = g + 3 + n
  end
end

local current = redis.call('HGET', KEYS[1], 'status')
if current ~= 'running' and current ~= 'queued' then
  -- Nothing is written, but what the caller wrote in advance goes.
  dropAllStaged()
  return { current or 'missing' }
end
-- Checked before anything is written: a value written in advance is where its argument says.
do
  local g = 9
  while g <= #ARGV do
    local n = tonumber(ARGV[g + 2])
    for j = 1, n do
      local token, field = stagedOf(ARGV[g + 2 + j])
      if token and redis.call('HEXISTS', KEYS[6], field) == 0 then
        return redis.error_reply('completeTasks: the value written in advance to ' .. field .. ' is missing')
      end
    end
    g = g + 3 + n
  end
end
loadStoreConfig(ARGV[2])
local now = nowMs()
local graph = graphOf(KEYS[1])
local ready = {}
local elsewhere = {}
local skipped = {}
local waited = redis.call('HEXISTS', KEYS[1], 'waited') == 1
-- Frees of this call are of values stored by earlier calls: small if no big value was stored before.
local big = redis.call('HEXISTS', KEYS[1], 'big') == 1
local small = not big
local finished = 0
local done = { k = {}, ms = {}, b = {}, w = ARGV[6], a = tonumber(ARGV[7]), ok = true }
local i = 9
while i <= #ARGV do
  local idx, ms, n = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  if redis.call('GETBIT', KEYS[5], idx) == 0 then
    redis.call('SETBIT', KEYS[5], idx, 1)
    local spec = specHeader(redis.call('HGET', KEYS[2], idx))
    local deps, outs, returns = spec[SPEC.deps], spec[SPEC.outs], spec[SPEC.returns] or 0
    local stored = {}
    if returns > 0 then
      for j = 1, n do stored[j] = idx .. ':' .. (j - 1) end
    else
      stored[1] = idx
    end
    local bytes = 0
    for j = 1, #stored do
      local value = ARGV[i + 2 + j]
      local token, field = stagedOf(value)
      local size = #value
      if token then
        if field ~= stored[j] then return redis.error_reply('completeTasks: a value written in advance to ' .. field .. ' for ' .. stored[j]) end
        size = redis.call('HSTRLEN', KEYS[6], field)
        redis.call('HDEL', stagedKey, field)
      end
      bytes = bytes + size
      -- An output of a multiple-return task that nothing reads (refs -1) is not kept.
      if returns > 0 and redis.call('HGET', KEYS[4], stored[j]) == '-1' then
        redis.call('HDEL', KEYS[4], stored[j])
        if token then redis.call('HDEL', KEYS[6], stored[j]) end
      else
        if not token then redis.call('HSET', KEYS[6], stored[j], value) end
        touchValue(ARGV[2], graph, stored[j], size, true, now)
        if not big and size >= SPILL_MIN then
          big = true
          redis.call('HSET', KEYS[1], 'big', 1)
        end
      end
    end
    -- A result for the result cache (options.cache), under its task's fingerprint.
    local cache = spec[SPEC.cache]
    if cache and cache ~= '' and returns == 0 then
      redis.call('SET', ARGV[2] .. ':cache:' .. cache, redis.call('HGET', KEYS[6], stored[1]), 'EX', tonumber(redis.call('HGET', ARGV[2] .. ':store', 'cachettl') or '86400'))
    end
    done.k[#done.k + 1] = spec[SPEC.key]
    done.ms[#done.ms + 1] = ms
    done.b[#done.b + 1] = bytes
    for j = 1, #outs do
      local o = outs[j]
      if redis.call('HINCRBY', KEYS[3], o, -1) <= 0 then
        redis.call('HDEL', KEYS[3], o)
        ready[#ready + 1] = o
      end
    end
    for j = 1, #deps do
      local field = depField(deps[j])
      if field and redis.call('HINCRBY', KEYS[4], field, -1) < 0 then
        redis.call('HDEL', KEYS[4], field)
        freeValue(ARGV[2], string.sub(KEYS[1], 1, -5), field, small)
      end
    end
    if waited then
      local waitersKey = string.sub(KEYS[1], 1, -5) .. 'waiters'
      for j = 1, #stored do
        local waiters = redis.call('HGET', waitersKey, stored[j])
        if waiters then
          redis.call('HDEL', waitersKey, stored[j])
          for other, task in string.gmatch(waiters, '([^ ;]+) (%d+)') do
            local base = graphBase(ARGV[2], other)
            local s = redis.call('HGET', base .. 'meta', 'status')
            if (s == 'running' or s == 'queued') and redis.call('HINCRBY', base .. 'pend', task, -1) <= 0 then
              redis.call('HDEL', base .. 'pend', task)
              elsewhere[#elsewhere + 1] = other
              elsewhere[#elsewhere + 1] = tonumber(task)
            end
          end
        end
      end
    end
    finished = finished + 1
  else
    skipped[#skipped + 1] = tonumber(idx)
    for j = 1, n do dropStaged(ARGV[i + 2 + j]) end
  end
  i = i + 3 + n
end
addEvents(KEYS[1], 'posttask', now, finished, done)
local status = 'running'
if finished > 0 then
  redis.call('HINCRBY', ARGV[2] .. ':stats', 'tasks_finished', finished)
  local running = redis.call('HINCRBY', KEYS[1], 'running', -finished)
  if running < 0 then redis.call('HSET', KEYS[1], 'running', 0) end
  if redis.call('HINCRBY', KEYS[1], 'done', finished) >= tonumber(redis.call('HGET', KEYS[1], 'total')) then
    finishGraph(KEYS[1], 'done', false, ARGV[1], ARGV[2])
    status = 'done'
  end
end
local take = 0
if #ready > 0 and tonumber(ARGV[3]) > 0 then
  take = math.min(tonumber(ARGV[3]), math.max(1, math.ceil(#ready / tonumber(ARGV[4]))))
end
-- Task classes (pool and priority, see dispatch.ts): the caller continues
-- only with tasks of pools it serves; the others go to the queue with theirs.
local placement = redis.call('HMGET', KEYS[1], 'classes', 'front')
local classed = placement[1] ~= false
local clsKey = string.sub(KEYS[1], 1, -5) .. 'cls'
local first, rest, restClasses = {}, {}, {}
for r = 1, #ready do
  local class = ''
  if classed then class = redis.call('HGET', clsKey, ready[r]) or '' end
  local pool = 'default'
  if class ~= '' then pool = string.match(class, '^([^|]*)') end
  if #first < take and string.find(ARGV[8], ',' .. pool .. ',', 1, true) then
    first[#first + 1] = ready[r]
  else
    rest[#rest + 1] = ready[r]
    restClasses[#restClasses + 1] = class
  end
end
local out = { status, tonumber(placement[2] or '0'), classed and 1 or 0, #rest }
for r = 1, #rest do out[#out + 1] = rest[r] end
if classed then for r = 1, #rest do out[#out + 1] = restClasses[r] end end
out[#out + 1] = #elsewhere / 2
for i = 1, #elsewhere do out[#out + 1] = elsewhere[i] end
out[#out + 1] = #skipped
for i = 1, #skipped do out[#out + 1] = skipped[i] end
if #ready > 0 then
  local keys = {}
  for r = 1, #ready do keys[r] = specHeader(redis.call('HGET', KEYS[2], ready[r]))[SPEC.key] end
  addEvents(KEYS[1], 'postsubmit', now, #keys, { k = keys })
end
local startedKeys = startAll(out, first, KEYS[2], KEYS[5], KEYS[6], ARGV[2], now, tonumber(ARGV[5]), big)
local started = #startedKeys
addEvents(KEYS[1], 'pretask', now, started, { k = startedKeys, w = ARGV[6], a = tonumber(ARGV[7]) })
if started > 0 then
  redis.call('HINCRBY', KEYS[1], 'running', started)
  redis.call('HINCRBY', ARGV[2] .. ':stats', 'tasks_started', started)
end
return out
