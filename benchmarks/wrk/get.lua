-- wrk script: GET the path given by $WRK_PATH with the bearer token in $WRK_TOKEN (if set);
-- prints one RESULT line like judgements.lua.
local token = os.getenv("WRK_TOKEN")
local path = os.getenv("WRK_PATH") or "/healthz"
local headers = {}
if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
request = function()
  return wrk.format("GET", path, headers)
end
done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d non2xx=%d timeouts=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
      + summary.errors.timeout, summary.errors.status, summary.errors.timeout))
end
