-- Appends the number of inputs of a task, then each input's value (false
-- where an object is missing). An input is a dep as specHeader describes it.
-- A spilled input comes back as the stub byte and its location, a large one
-- as a reference for the worker to read (see store). `budget.left` counts
-- down the bytes of inputs the worker gets, references included (see deferTask);
-- `budget.big` says whether the task's own graph ever stored a large value
-- (objects of other graphs are always checked).
-- Needs specHeader and store.
local function appendInputs(out, deps, base, graph, prefix, now, budget)
  out[#out + 1] = #deps
  for j = 1, #deps do
    local d = deps[j]
    local field = depField(d)
    local value, length = false, 0
    if field then
      value, length = readValue(prefix, base, graph, field, now, budget.big)
    else
      local gid, node = string.match(d, '^(.+)%.([%d:]+)$')
      if gid then value, length = readValue(prefix, prefix .. ':{' .. gid .. '}:', gid, node, now, true) end
    end
    budget.left = budget.left - length
    out[#out + 1] = value or false
  end
end

-- Appends to `out` what a worker needs to run task `idx`: idx, 0, its spec,
-- then its inputs (appendInputs); or idx, 1, '', 0 when the task is already
-- done (a repeated delivery). Returns the task's key when it starts, false
-- when it was done.
local function startTask(out, idx, specKey, doneKey, valsKey, prefix, now, budget)
  out[#out + 1] = tonumber(idx)
  if redis.call('GETBIT', doneKey, idx) == 1 then
    out[#out + 1] = 1
    out[#out + 1] = ''
    out[#out + 1] = 0
    return false
  end
  local spec = redis.call('HGET', specKey, idx)
  local header = specHeader(spec)
  local base = string.sub(valsKey, 1, -5)
  out[#out + 1] = 0
  out[#out + 1] = spec
  appendInputs(out, header[SPEC.deps], base, graphOf(base), prefix, now, budget)
  return header[SPEC.key]
end

-- A task not started because the reply already holds budget.left's worth of
-- input bytes (a reply is Redis memory too): idx, 2, '', 0. The caller enqueues it.
local function deferTask(out, idx)
  out[#out + 1] = tonumber(idx)
  out[#out + 1] = 2
  out[#out + 1] = ''
  out[#out + 1] = 0
end

-- Starts `tasks` in order, deferring the rest once the reply holds `maxBytes`
-- of inputs (at least one task always starts). `big`: the graph has stored a
-- value of SPILL_MIN bytes (meta field `big`). Returns the started tasks' keys.
local function startAll(out, tasks, specKey, doneKey, valsKey, prefix, now, maxBytes, big)
  local keys = {}
  local budget = { left = maxBytes, big = big }
  for i = 1, #tasks do
    if #keys > 0 and budget.left <= 0 then
      deferTask(out, tasks[i])
    else
      local key = startTask(out, tasks[i], specKey, doneKey, valsKey, prefix, now, budget)
      if key then keys[#keys + 1] = key end
    end
  end
  return keys
end
