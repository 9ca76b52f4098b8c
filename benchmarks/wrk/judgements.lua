-- wrk script: POST Wokingham SWB/LoR judgements spread over the cases listed in $WRK_CASES
-- (one id a line) with the bearer token in $WRK_TOKEN. Levels cycle low/medium so no panel or
-- register work dominates; every request is a real write of record, steps, audit and outbox.
local cases = {}
local token = os.getenv("WRK_TOKEN")
for line in io.lines(os.getenv("WRK_CASES")) do cases[#cases + 1] = line end
local domains = {"swb", "lor"}
local levels = {"low", "medium"}
local n = 0
request = function()
  n = n + 1
  local case = cases[(n % #cases) + 1]
  local body = string.format('{"domain":"%s","level":"%s"}', domains[(n % 2) + 1],
                             levels[(math.floor(n / 2) % 2) + 1])
  return wrk.format("POST", "/v1/cases/" .. case .. "/judgements",
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
                    body)
end
done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d non2xx=%d timeouts=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
      + summary.errors.timeout, summary.errors.status, summary.errors.timeout))
end
