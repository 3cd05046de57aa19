-- wrk script for bench/ingest.py: messages:create with ~500 bytes of content.
-- wrk ... -s wrk_messages.lua <url> -- <threads file> <api key>
local threads = {}
local key = ""
local content = string.rep("Streaming assistant output, token by token. ", 12)
content = content:sub(1, 500)

init = function(args)
  for line in io.lines(args[1]) do
    if #line > 0 then table.insert(threads, line) end
  end
  key = args[2]
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

request = function()
  local thread = threads[math.random(#threads)]
  local body = '{"path":"messages:create","args":{"threadId":"' .. thread ..
    '","role":"assistant","content":"' .. content .. '"}}'
  return wrk.format("POST", "/api/mutation",
    {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "socket_errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
