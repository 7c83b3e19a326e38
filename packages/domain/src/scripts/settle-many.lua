--[[
  Applies a chunk of routed results of one batch in one call, item by item with the semantics of settle_one (a later
  item for the same request sees the earlier one's write, so it is 'stale'): one script call instead of one per
  result line.
  Input:
    KEYS[i]  the request hash of item i
    ARGV[1]  call options (JSON): tag, batchId, now, maxAttempts, retention (ms), partition, ledger (see bill;
             absent: nothing is billed)
    then per item, in KEYS order:
      its options (JSON): kind (completed | rejected | retry | requeue | invalid | escalate), message, group ('' = keep),
        truncated (true: finish_reason length), bill (see bill), lane (optional: the fast lane that answered);
        or, for a `completed` item with no message, group or lane, the compact form read without a JSON decode
        (request-store.ts compactOptions; SEP = \1, PAIR = \2): SEP truncated ('1' | '0'), then, when billed,
        SEP provider SEP model SEP rt ('' when unpriced) SEP usage (JSON text) and SEP lane PAIR nano-USD per lane priced
      its response (JSON text, '' for none)
  Output: per item, its outcome (completed | failed | retried | stale | unknown), its outbox member ('' for none) and
  its billing line ('' for none); the finished ones are announced in one message (see finish)
]]
--- @include "settle-one"
local o = cjson.decode(ARGV[1])

-- An item's options, JSON or compact (above).
local function item_options(s)
  if string.byte(s, 1) ~= 1 then return cjson.decode(s) end
  local item = {kind = 'completed', message = '', group = '', truncated = string.byte(s, 2) == 49}
  if #s <= 2 then return item end
  local e1 = string.find(s, '\1', 4, true)
  local e2 = string.find(s, '\1', e1 + 1, true)
  local e3 = string.find(s, '\1', e2 + 1, true)
  local e4 = string.find(s, '\1', e3 + 1, true)
  item.bill = {provider = string.sub(s, 4, e1 - 1), model = string.sub(s, e1 + 1, e2 - 1),
    rt = tonumber(string.sub(s, e2 + 1, e3 - 1)), usage = string.sub(s, e3 + 1, e4 and e4 - 1 or -1), text = s,
    lanesAt = e4}
  return item
end
local out = {}
-- The chunk's counters, ledger increments and index entries are summed and written once at the end (move, bill,
-- finish); written also when an item raises, so that they match the records the items before it changed.
move_defer()
bill_defer()
finish_defer()
local ok, err = pcall(function()
  for i = 1, #KEYS do
    local item = item_options(ARGV[2 * i])
    local outcome, member, billed = settle_one(o.tag, KEYS[i], o.batchId, item.kind, o.now, ARGV[2 * i + 1],
      item.message, o.maxAttempts, o.retention, o.partition, item.group, item.truncated == true, item.bill, o.ledger,
      item.lane)
    out[#out + 1] = outcome
    out[#out + 1] = member or ''
    out[#out + 1] = billed or ''
  end
end)
bill_flush()
move_flush(o.tag)
publish_finished(o.tag)
if not ok then error(err) end
return out
