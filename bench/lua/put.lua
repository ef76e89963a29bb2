-- PUT of a new name per request: BENCH_PUT_PREFIX .. "t<thread>-<n>.bin", BENCH_PUT_SIZE bytes.
dofile((os.getenv("BENCH_LUA") or ".") .. "/report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local prefix, body, hdr, n
function init(args)
  prefix = (os.getenv("BENCH_PUT_PREFIX") or "/put/") .. "t" .. tid .. "-"
  body = string.rep("p", tonumber(os.getenv("BENCH_PUT_SIZE") or "4096"))
  hdr = {["Content-Type"] = "application/octet-stream"}
  n = 0
end

function request()
  n = n + 1
  return wrk.format("PUT", prefix .. n .. ".bin", hdr, body)
end
