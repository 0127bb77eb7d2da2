-- A spec is: 4-byte big-endian length, a msgpack array (the header), the
-- packed template. src/queue/spec.ts (SPEC_HEADER) describes the header's
-- fields; scripts read only the header, each field by its number in SPEC
-- (test/protocol.test.ts holds these numbers to SPEC_HEADER; a field no
-- script reads need not be here).
-- A dep is a node index, {index, j} for output j of a multiple-return node,
-- or an object id `<graph>.<field>` of another graph.
local SPEC = { key = 1, deps = 2, outs = 3, returns = 4, cache = 5 }

local function specHeader(spec)
  local n = struct.unpack('>I4', spec)
  return cmsgpack.unpack(string.sub(spec, 5, 4 + n))
end

-- The field of the vals hash a dep of this graph is stored in (nil for an object id).
local function depField(d)
  if type(d) == 'number' then return tostring(d) end
  if type(d) == 'table' then return d[1] .. ':' .. d[2] end
  return nil
end
