-- Appends to `out` what a worker needs to run task `idx`: idx, 0, its spec,
-- the number of inputs, then each input's value (false where an object is
-- missing); or idx, 1, '', 0 when the task is already done (a repeated delivery).
-- An input is a dep as specHeader describes it.
-- A spilled input comes back as the stub byte and its location (see store).
-- Returns 1 when the task starts, 0 when it was done. Needs specHeader and store.
local function startTask(out, idx, specKey, doneKey, valsKey, prefix, now)
  out[#out + 1] = tonumber(idx)
  if redis.call('GETBIT', doneKey, idx) == 1 then
    out[#out + 1] = 1
    out[#out + 1] = ''
    out[#out + 1] = 0
    return 0
  end
  local spec = redis.call('HGET', specKey, idx)
  local deps = specHeader(spec)[2]
  out[#out + 1] = 0
  out[#out + 1] = spec
  out[#out + 1] = #deps
  for j = 1, #deps do
    local d = deps[j]
    local field = depField(d)
    if field then
      local base = string.sub(valsKey, 1, -5)
      out[#out + 1] = readValue(prefix, base, field, string.match(base, '{(.*)}') .. '.' .. field, now) or false
    else
      local gid, node = string.match(d, '^(.+)%.([%d:]+)$')
      if gid then
        out[#out + 1] = readValue(prefix, prefix .. ':{' .. gid .. '}:', node, d, now) or false
      else
        out[#out + 1] = false
      end
    end
  end
  return 1
end
