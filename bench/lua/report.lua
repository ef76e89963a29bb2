-- Loaded by every bench wrk script: prints the summary as "WRK key value" lines for davload.sh.
function done(summary, latency, requests)
  local s = summary.duration / 1e6
  local e = summary.errors
  local out = {
    {"requests", string.format("%d", summary.requests)},
    {"rps", string.format("%.2f", summary.requests / s)},
    {"bytes_per_s", string.format("%.0f", summary.bytes / s)},
    {"lat_p50_ms", string.format("%.3f", latency:percentile(50) / 1000)},
    {"lat_p99_ms", string.format("%.3f", latency:percentile(99) / 1000)},
    {"lat_max_ms", string.format("%.3f", latency.max / 1000)},
    {"err_status", string.format("%d", e.status)},
    {"err_sock", string.format("%d", e.connect + e.read + e.write + e.timeout)},
  }
  for _, kv in ipairs(out) do io.write("WRK ", kv[1], " ", kv[2], "\n") end
end
