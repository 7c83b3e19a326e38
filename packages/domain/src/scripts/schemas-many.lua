--[[
  Reads the JSON schemas (SPEC §14) of a chunk of requests, read-only: one call per settle chunk instead of one HGET
  per routed line (the per-command cost of both sides dominated the reads, and most requests ask for no schema).
  Input:
    KEYS[i]  the request hash of item i
  Output: {i, schema, i, schema, ...} for the items whose request has a non-empty `schema` (1-based, in KEYS order)
]]
local out = {}
for i = 1, #KEYS do
  local schema = redis.call('HGET', KEYS[i], 'schema')
  if schema and schema ~= '' then
    out[#out + 1] = i
    out[#out + 1] = schema
  end
end
return out
