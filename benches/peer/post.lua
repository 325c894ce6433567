-- wrk script for benches/serve_peer.sh: POSTs signed realtime request bodies.
--
--   [WRK_PACE_MS=N] wrk -s post.lua URL -- BODIES_FILE
--
-- BODIES_FILE holds one body a line ({"signedPayload": JWS}); each thread sends them in
-- turn (requests formatted once, in init). WRK_PACE_MS > 0 makes each connection wait that long
-- after each answer before its next request (wrk's delay()): a paced CLOSED loop, the
-- stand-in for a fixed rate when no open-loop generator (oha -q) is installed; it hides a
-- stall (coordinated omission) and its rate drops when answers slow down.
-- done() prints one line for the script to read:
--   RESULT requests=N duration_us=D rps=R p50_us=.. p99_us=.. p999_us=.. max_us=..
--          non2xx=.. connect_err=.. read_err=.. write_err=.. timeout_err=..

local requests = {}
local index = 0
-- read from the environment, not init's args: wrk decides whether the script paces from
-- the script as loaded, before any init() runs, and a delay() of 0 still costs a timer
local pace_ms = tonumber(os.getenv("WRK_PACE_MS") or "0") or 0

function init(args)
  local path = args[1]
  local file = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  local headers = { ["Content-Type"] = "application/json" }
  for line in file:lines() do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("POST", nil, headers, line)
    end
  end
  file:close()
  assert(#requests > 0, "no body in " .. path)
  -- threads start at different bodies
  index = math.random(#requests) - 1
end

function request()
  index = index % #requests + 1
  return requests[index]
end

if pace_ms > 0 then
  function delay()
    return pace_ms
  end
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d p999_us=%d max_us=%d " ..
    "non2xx=%d connect_err=%d read_err=%d write_err=%d timeout_err=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
