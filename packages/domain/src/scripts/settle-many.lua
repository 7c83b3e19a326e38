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
        truncated (true: finish_reason length), bill (see bill), lane (optional: the fast lane that answered)
      its response (JSON text, '' for none)
  Output: per item, its outcome (completed | failed | retried | stale | unknown), its outbox member ('' for none) and
  its billing line ('' for none); the finished ones are announced in one message (see finish)
]]
--- @include "settle-one"
local o = cjson.decode(ARGV[1])
local out = {}
-- The chunk's counters, ledger increments and index entries are summed and written once at the end (move, bill,
-- finish); written also when an item raises, so that they match the records the items before it changed.
move_defer()
bill_defer()
finish_defer()
local ok, err = pcall(function()
  for i = 1, #KEYS do
    local item = cjson.decode(ARGV[2 * i])
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
