--[[
  One provider's circuit (SPEC §11 failover), shared by every replica, over four operations: upload, create, poll and
  download. Each has its own run of consecutive failures (`f:<op>`), so that a call that works (a batch list between
  two failed creates) does not hide one that keeps failing. `closed`: calls flow. When one operation reaches
  `failures` in a row the circuit opens (`opened_by` = that operation): new flushes skip the provider until `until`;
  then `allow` lets one caller through and moves `until` one cool-down on, so that replicas do not all probe at once.
  A success of the operation that opened it (or of a create, the call that matters most) closes it; a failure of a
  probe keeps it open for another cool-down.
  Input:
    KEYS[1]  the provider's health hash (G:provider:<id>)
    ARGV[1]  options (JSON): op ('success' | 'failure' | 'allow'), what (the operation), now, failures (threshold),
             cooldown (ms), message (of a failure)
  Output: {state, allowed (1|0), consecutive failures of `what`, open until (ms, 0 when closed)}
]]
local o = cjson.decode(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 'state', 'until', 'opened_by')
local state = h[1] or 'closed'
local untilMs = tonumber(h[2] or '0') or 0
local openedBy = h[3] or ''
local field = 'f:' .. tostring(o.what or 'call')
local allowed = 1
local failures = 0
if o.op == 'success' then
  if redis.call('HGET', KEYS[1], field) then redis.call('HDEL', KEYS[1], field) end
  if state == 'open' and (o.what == openedBy or o.what == 'create') then
    redis.call('HSET', KEYS[1], 'state', 'closed', 'until', 0, 'opened_by', '', 'closed_at', o.now)
    for _, f in ipairs({'f:upload', 'f:create', 'f:poll', 'f:download'}) do redis.call('HDEL', KEYS[1], f) end
    state, untilMs = 'closed', 0
  end
elseif o.op == 'failure' then
  failures = redis.call('HINCRBY', KEYS[1], field, 1)
  redis.call('HSET', KEYS[1], 'last_failure_at', o.now, 'last_failure', o.what .. ': ' .. tostring(o.message or ''))
  if state ~= 'open' and failures >= o.failures then
    state, untilMs = 'open', o.now + o.cooldown
    redis.call('HSET', KEYS[1], 'state', state, 'until', untilMs, 'opened_at', o.now, 'opened_by', o.what)
    redis.call('HINCRBY', KEYS[1], 'opened', 1)
  elseif state == 'open' and o.now >= untilMs - o.cooldown then
    -- A failed probe (or a failure after the probe went): closed to new flushes for another cool-down.
    untilMs = o.now + o.cooldown
    redis.call('HSET', KEYS[1], 'until', untilMs)
  end
elseif o.op == 'allow' then
  if state == 'open' then
    if o.now >= untilMs then
      untilMs = o.now + o.cooldown
      redis.call('HSET', KEYS[1], 'until', untilMs, 'probe_at', o.now)
    else
      allowed = 0
    end
  end
end
return {state, allowed, failures, untilMs}
