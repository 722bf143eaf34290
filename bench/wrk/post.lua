-- wrk script for modelgate's benchmark (bench/harness.py runs it).
-- POSTs the JSON body read from the file named by $BENCH_BODY_FILE, and at
-- the end prints one line, `WRK_RESULT {json}`: completed requests, errors
-- (socket errors + non-2xx) and latency percentiles in microseconds.

local body_file = os.getenv("BENCH_BODY_FILE")

function init(args)
   local f = assert(io.open(body_file, "rb"), "cannot read $BENCH_BODY_FILE")
   wrk.body = f:read("*a")
   f:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
      '"p50":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean))
end
