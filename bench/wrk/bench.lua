-- wrk script for bench/run: a fixed request (GET, or POST when WRK_BODY is set) and a
-- one-line JSON summary on stdout that the driver parses.
--   WRK_BODY  form body of a POST (application/x-www-form-urlencoded)
--   WRK_AUTH  value of the Authorization header

local body = os.getenv("WRK_BODY")
local auth = os.getenv("WRK_AUTH")
if body and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
