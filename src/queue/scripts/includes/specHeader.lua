-- A spec is: 4-byte big-endian length, msgpack [key, deps, outs], packed
-- template (src/queue/spec.ts). Scripts read only the header.
local function specHeader(spec)
  local n = struct.unpack('>I4', spec)
  return cmsgpack.unpack(string.sub(spec, 5, 4 + n))
end
