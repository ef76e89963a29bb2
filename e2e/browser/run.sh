#!/usr/bin/env bash
# Browser end-to-end test of davd's web UI: builds cmd/davd, starts it on a free loopback port over
# a fresh temp tree, drives Debian's headless Chromium through playwright-core (never a downloaded
# browser) and checks every result over WebDAV. Last line: "browser: N passed, M failed".
#
# Environment: ARTIFACTS_DIR (screenshots; default e2e/browser/artifacts), DAVD_PKG (the package
# to build as the server; default ./cmd/davd), KEEP_TMP=1 keeps the temp dir and server log.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export ARTIFACTS_DIR="${ARTIFACTS_DIR:-$here/artifacts}"
pkg="${DAVD_PKG:-./cmd/davd}"

summary() { echo "browser: $1 passed, $2 failed"; }

if [ ! -x /usr/bin/chromium ]; then
	echo "installing chromium (Debian package)"
	export DEBIAN_FRONTEND=noninteractive
	sudo_="";
	[ "$(id -u)" -eq 0 ] || sudo_="sudo"
	$sudo_ apt-get update -qq
	$sudo_ apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

cd "$here"
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/davd-browser.XXXXXX")"
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	if [ "${KEEP_TMP:-}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

(cd "$repo" && go build -o "$TMP/davd" "$pkg")
mkdir -p "$TMP/data" "$TMP/state" "$ARTIFACTS_DIR"

port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
"$TMP/davd" -root "$TMP/data" -state "$TMP/state" -listen "127.0.0.1:$port" >"$TMP/server.log" 2>&1 &
pid=$!

up=""
for _ in $(seq 100); do
	if ! kill -0 "$pid" 2>/dev/null; then break; fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
	sleep 0.1
done
if [ -z "$up" ]; then
	echo "davd did not start on 127.0.0.1:$port; its log:"
	cat "$TMP/server.log"
	summary 0 1
	exit 1
fi

rc=0
DAVD_URL="http://127.0.0.1:$port" SUMMARY_FILE="$TMP/summary" \
	timeout -k 5 180 node "$here/test.mjs" || rc=$?

if [ "$rc" -ne 0 ]; then
	echo "--- server log (last 40 lines) ---"
	tail -n 40 "$TMP/server.log" || true
fi
line="$(cat "$TMP/summary" 2>/dev/null || true)"
[ -n "$line" ] || line="$(summary 0 1)"
[ "$rc" -eq 0 ] || case "$line" in *" 0 failed") line="$(summary 0 1)";; esac
cleanup
trap - EXIT
echo "$line"
exit "$rc"
