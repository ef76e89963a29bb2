-- LOCK then UNLOCK of one name per thread, alternately: the lock table stays small, and each
-- pair is a grant and a removal. Env: BENCH_LOCK_PREFIX ("/lock/").
dofile((os.getenv("BENCH_LUA") or ".") .. "/report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local path, token, lockbody
function init(args)
  path = (os.getenv("BENCH_LOCK_PREFIX") or "/lock/") .. "t" .. tid .. ".txt"
  lockbody = '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>'
end

function request()
  if token then
    return wrk.format("UNLOCK", path, {["Lock-Token"] = token}, nil)
  end
  return wrk.format("LOCK", path, {["Timeout"] = "Second-60", ["Content-Type"] = "application/xml"}, lockbody)
end

function response(status, headers, body)
  if token then
    token = nil
  elseif status == 200 or status == 201 then
    token = headers["Lock-Token"]
  end
end
