-- A client's small-operation mix. Each wrk thread repeats:
--   PUT NEW..r<run>-t<thread>-<i>.bin (4 KiB), GET it back, PROPFIND Depth 1 allprop of DIR
--   (a collection of 100 files), DELETE the file.
-- Run with one connection per thread (-tN -cN) so a thread's requests are strictly sequential:
-- wrk sends a connection's next request only after the previous response. Before the first
-- cycle each thread sends one OPTIONS (wrk calls request() once when checking the script).
-- Env: BENCH_MIXED_DIR, BENCH_MIXED_NEW (existing empty collection), BENCH_RUN (URL paths end in /).
dofile((os.getenv("BENCH_LUA") or ".") .. "/report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local dir, prefix, body, puthdr, pfhdr, pfbody, k
function init(args)
  dir = os.getenv("BENCH_MIXED_DIR") or "/mixed/"
  prefix = (os.getenv("BENCH_MIXED_NEW") or "/new/") .. "r" .. (os.getenv("BENCH_RUN") or "0") .. "-t" .. tid .. "-"
  body = string.rep("m", 4096)
  puthdr = {["Content-Type"] = "application/octet-stream"}
  pfhdr = {["Depth"] = "1", ["Content-Type"] = 'application/xml; charset="utf-8"'}
  pfbody = '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>\n'
  k = -1
end

function request()
  if k < 0 then
    k = 0
    return wrk.format("OPTIONS", dir)
  end
  local op, i = k % 4, math.floor(k / 4)
  k = k + 1
  local name = prefix .. i .. ".bin"
  if op == 0 then return wrk.format("PUT", name, puthdr, body) end
  if op == 1 then return wrk.format("GET", name) end
  if op == 2 then return wrk.format("PROPFIND", dir, pfhdr, pfbody) end
  return wrk.format("DELETE", name)
end
