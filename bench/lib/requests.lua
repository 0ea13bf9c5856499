-- wrk script: sends the requests listed in $BENCH_REQUESTS, one per line, in
-- order and round again when they run out (counted, so that a scenario whose
-- credentials must be fresh can tell it reused some), and writes wrk's
-- summary as JSON to $BENCH_WRK_OUT.
-- A line is tab-separated: METHOD, PATH, BODY (may be empty), then header name,
-- value, name, value...
local requests = {}
local count, at, rounds = 0, 0, 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local f = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      f[#f + 1] = field
    end
    local headers = {}
    for k = 4, #f - 1, 2 do
      headers[f[k]] = f[k + 1]
    end
    local body = nil
    if f[3] ~= "" then body = f[3] end
    count = count + 1
    requests[count] = wrk.format(f[1], f[2], headers, body)
  end
end

function request()
  at = at + 1
  if at > count then
    at = 1
    rounds = rounds + 1
    wrapped = rounds
  end
  return requests[at]
end

function done(summary, latency, requests_)
  local wraps = 0
  for _, t in ipairs(threads) do
    wraps = wraps + (t:get("wrapped") or 0)
  end
  local e = summary.errors
  local out = io.open(os.getenv("BENCH_WRK_OUT"), "w")
  out:write(string.format(
    '{"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},"wrapped":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean, wraps))
  out:close()
end
