-- wrk script for bench/directory_http.sh: name-prefix searches on BENCH_PATH (default the
-- Annuaire) with the session cookie PREAU_COOKIE; prints "p50 p95 p99 req/s non2xx" in ms.
local prefixes = {"mar","ber","du","le+g","lef","zo","n%27d","da+s","rob","pet","moreau","gar",
                  "ch","fo","vin","lu","cl","bo","gi","rou"}
local cookie = os.getenv("PREAU_COOKIE") or ""
-- The User-Agent of the login (directory_http.sh): Flask-Login's session protection marks a
-- session not fresh when it changes, which rewrites the cookie at every response.
local agent = os.getenv("PREAU_AGENT") or "preau-bench"
local path = os.getenv("BENCH_PATH") or "/annuaire/?nom="
request = function()
  local q = prefixes[math.random(#prefixes)]
  return wrk.format("GET", path .. q, {["Cookie"] = cookie, ["User-Agent"] = agent})
end
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
                 + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %.1f %.1f %.1f %.0f %d\n", latency:percentile(50) / 1000,
           latency:percentile(95) / 1000, latency:percentile(99) / 1000,
           summary.requests / (summary.duration / 1e6), errors))
end
