-- wrk script for the web UI's search load benchmark (bench/run_web_bench.sh).
--
-- Environment:
--   WEB_BENCH_QUERIES  file with one request path per line (/api/search?q=...),
--                      already URL-encoded; cycled through in order, each wrk
--                      thread starting at its own offset
--   WEB_BENCH_COOKIE   the session cookie ("mv_session=...") from POST /api/login
--
-- Counts every answer that is not 2xx (wrk's own "Non-2xx or 3xx" lets 3xx pass)
-- and prints machine-readable key=value lines after wrk's summary.

local paths = {}
local threads = {}
local thread_count = 0

local function load_paths()
  local file = os.getenv("WEB_BENCH_QUERIES")
  local f = file and io.open(file, "r")
  if not f then
    io.stderr:write("web_bench.lua: set WEB_BENCH_QUERIES to a readable file\n")
    os.exit(2)
  end
  for line in f:lines() do
    if line ~= "" then paths[#paths + 1] = line end
  end
  f:close()
  if #paths == 0 then
    io.stderr:write("web_bench.lua: no request paths in " .. file .. "\n")
    os.exit(2)
  end
end

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  threads[#threads + 1] = thread
end

function init(args)
  load_paths()
  next_index = (id * 7919) % #paths  -- spread the threads over the list
  non2xx = 0
  wrk.headers["Cookie"] = os.getenv("WEB_BENCH_COOKIE") or ""
  wrk.headers["Accept"] = "application/json"
end

function request()
  next_index = next_index % #paths + 1
  return wrk.format("GET", paths[next_index])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if non2xx <= 3 then
      io.stderr:write("web_bench.lua: HTTP " .. status .. ": " .. string.sub(body, 1, 200) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non2xx") or 0) end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format("requests=%d\n", summary.requests))
  io.write(string.format("duration_s=%.3f\n", seconds))
  io.write(string.format("rps=%.1f\n", summary.requests / seconds))
  io.write(string.format("bytes=%d\n", summary.bytes))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%s_ms=%.2f\n", (tostring(p):gsub("%.", "_")), latency:percentile(p) / 1000))
  end
  io.write(string.format("mean_ms=%.2f\nmax_ms=%.2f\n", latency.mean / 1000, latency.max / 1000))
  io.write(string.format("non2xx=%d\n", bad))
  io.write(string.format("errors_connect=%d\nerrors_read=%d\nerrors_write=%d\n", e.connect, e.read,
                         e.write))
  io.write(string.format("errors_status=%d\nerrors_timeout=%d\n", e.status, e.timeout))
end
