--[[
  Recovery after a lost worker. A worker finishes tasks, then enqueues (or
  runs itself) the tasks that became ready; if it dies in between, those are
  ready but queued nowhere. Its job is delivered again, finds its own tasks
  done, and asks this script: walking down from them through finished tasks,
  which tasks are ready (all inputs done) but not finished? They are returned
  to be enqueued again; one that is in fact still queued or running elsewhere
  runs twice at worst, and completeTasks keeps the first result.

  Input:
    KEYS[1] meta, KEYS[2] spec, KEYS[3] pend, KEYS[4] done
    ARGV[1] most nodes to visit
    ARGV[2..] indexes of finished tasks to start from

  Output:
    { ready index... }
]]
--- @include "specHeader"
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'running' and status ~= 'queued' then return {} end
local limit = tonumber(ARGV[1])
local seen, todo, ready = {}, {}, {}
for i = 2, #ARGV do todo[#todo + 1] = tonumber(ARGV[i]) end
local visited = 0
while #todo > 0 and visited < limit do
  local idx = table.remove(todo)
  if not seen[idx] then
    seen[idx] = true
    visited = visited + 1
    if redis.call('GETBIT', KEYS[4], idx) == 1 then
      local spec = redis.call('HGET', KEYS[2], idx)
      if spec then
        local outs = specHeader(spec)[SPEC.outs]
        for j = 1, #outs do todo[#todo + 1] = outs[j] end
      end
    elseif not redis.call('HGET', KEYS[3], idx) then
      ready[#ready + 1] = idx
    end
  end
end
return ready
