-- PROPFIND of the URL given to wrk. Env: BENCH_DEPTH (1), BENCH_BODY = allprop | props.
dofile((os.getenv("BENCH_LUA") or ".") .. "/report.lua")

local head = '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:">'
local bodies = {
  allprop = head .. '<D:allprop/></D:propfind>\n',
  -- the four properties file managers and sync clients (rclone, Finder, davfs2) ask for
  props = head .. '<D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>\n',
}
wrk.method = "PROPFIND"
wrk.headers["Depth"] = os.getenv("BENCH_DEPTH") or "1"
wrk.headers["Content-Type"] = 'application/xml; charset="utf-8"'
wrk.body = assert(bodies[os.getenv("BENCH_BODY") or "allprop"], "BENCH_BODY")
