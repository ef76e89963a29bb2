-- GET of the URL given to wrk.
dofile((os.getenv("BENCH_LUA") or ".") .. "/report.lua")
