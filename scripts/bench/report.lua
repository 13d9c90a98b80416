-- wrk reporter: one machine-readable line per run.
-- RESULT <requests/s> <p99 ms> <errors> <MB/s> <requests>
done = function(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT %.1f %.3f %d %.2f %d\n",
    summary.requests / secs, latency:percentile(99) / 1000, errors,
    summary.bytes / secs / 1e6, summary.requests))
end
