-- wrk script for bench/speed.py: optional Bearer token and JSON POST body from the environment,
-- and one JSON line of results (requests, latency percentiles in microseconds, errors, and how
-- many answers were 503: logins the server refused rather than queued).
local token = os.getenv("BENCH_TOKEN")
local body = os.getenv("BENCH_BODY")
local threads = {}

wrk.headers["Accept"] = "application/json"
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
if body and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  refused = 0
end

-- Looking at every response costs wrk time, so only the login storm asks for it.
if os.getenv("BENCH_COUNT_REFUSED") then
  response = function(status, headers, body)
    if status == 503 then
      refused = refused + 1
    end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  local total_refused = 0
  for _, thread in ipairs(threads) do
    total_refused = total_refused + thread:get("refused")
  end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"refused":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout, total_refused))
end
