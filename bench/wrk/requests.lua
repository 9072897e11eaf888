-- wrk script: replays requests from a file, one per line, split by tabs:
--   METHOD <TAB> PATH <TAB> BODY (may be empty) [<TAB> Name: value]...
-- Thread k of n takes lines k, k+n, k+2n, ... so no two threads send the
-- same request (an OTP challenge is consumed by its first verify), then
-- cycles through its share. done() prints one JSON line for bench/.
--   wrk -t2 -c8 -d10s -s requests.lua URL -- FILE THREADS

local next_id = 1

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

local function split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    fields[#fields + 1] = field
  end
  return fields
end

function init(args)
  local threads = tonumber(args[2])
  local n = 0
  prepared = {}
  for line in io.lines(args[1]) do
    if n % threads == thread_id - 1 then
      local f = split(line)
      local headers = {}
      for k = 4, #f do
        local name, value = f[k]:match("^([^:]+):%s*(.*)$")
        headers[name] = value
      end
      local body = nil
      if f[3] ~= "" then body = f[3] end
      prepared[#prepared + 1] = wrk.format(f[1], f[2], headers, body)
    end
    n = n + 1
  end
  position = 0
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99)))
end
