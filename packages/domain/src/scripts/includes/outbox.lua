--[[
  outbox_member(queue, jobId, data): the outbox member of a job (JSON: queue kind, job id, job data).
  outbox_add(tag, now, queue, jobId, data): writes it for the outbox relay (queues/outbox.ts) to hand to BullMQ, in
  the same atomic step as the state change that asks for the job. Returns the member.
]]
local function outbox_member(queue, jobId, data)
  return cjson.encode({queue=queue, jobId=jobId, data=data})
end

local function outbox_add(tag, now, queue, jobId, data)
  local member = outbox_member(queue, jobId, data)
  redis.call('ZADD', key_outbox(tag), now, member)
  return member
end
