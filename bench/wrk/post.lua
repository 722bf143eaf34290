-- wrk script for modelgate's benchmark (bench/harness.py runs it).
-- POSTs the JSON body read from the file named by $BENCH_BODY_FILE, and at
-- the end prints one line, `WRK_RESULT {json}`: completed requests, errors
-- (socket errors + non-2xx) and latency percentiles in microseconds.
--
-- wrk counts a response as completed by its HTTP framing (the last chunk of
-- a chunked body) and status alone: it never looks at the events. With
-- $BENCH_EXPECT_END set to a Lua pattern (the harness and callgrind.sh set
-- it in warm-ups: `data: %[DONE%]\n\n$` for a chat stream,
-- `event: response%.completed\ndata: [^\n]*\n\n$` for a Responses stream),
-- every body must match it, and those that do not are counted in
-- `incomplete`. Unset (the measured windows), `response` is not defined and
-- wrk does not even gather the bodies: the check costs the measurement
-- nothing. `"checked"` says which it was.

local body_file = os.getenv("BENCH_BODY_FILE")
-- $BENCH_AUTH: a gateway key to send (bench/run.sh --teams).
local auth = os.getenv("BENCH_AUTH")
local expect_end = os.getenv("BENCH_EXPECT_END")
if expect_end == "" then
   expect_end = nil
end
local threads = {}

-- Per thread (each has its own Lua state); read back in done().
incomplete = 0

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local f = assert(io.open(body_file, "rb"), "cannot read $BENCH_BODY_FILE")
   wrk.body = f:read("*a")
   f:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   if auth and auth ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. auth
   end
end

if expect_end then
   function response(status, headers, body)
      if not string.find(body, expect_end) then
         incomplete = incomplete + 1
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local missing = 0
   for _, t in ipairs(threads) do
      missing = missing + t:get("incomplete")
   end
   io.write(string.format(
      'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
      '"p50":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f,"checked":%s,"incomplete":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean, expect_end and "true" or "false", missing))
end
