#!/usr/bin/env bash
# Browser end-to-end test of davd's web UI: builds cmd/davd, starts it on a free loopback port over
# a fresh temp tree, drives Debian's headless Chromium through playwright-core (never a downloaded
# browser) and checks every result over WebDAV. The scenario runs twice: at the root, and under
# -prefix "/dav files". Last line: "browser: N passed, M failed"; exit status non-zero on failure.
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
stop_server() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	pid=""
}
cleanup() {
	stop_server
	if [ "${KEEP_TMP:-}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

if ! (cd "$repo" && go build -o "$TMP/davd" "$pkg"); then
	echo "cannot build $pkg"
	summary 0 1
	exit 1
fi

total_pass=0
total_fail=0
rc=0

# run_pass NAME PREFIX ARTIFACTS [SCRIPT [CONFIG]]: a fresh tree and server, the whole scenario
# (test.mjs, or SCRIPT) with CONFIG added to the server's configuration, the server stopped.
run_pass() {
	local name="$1" prefix="$2" artifacts="$3" script="${4:-test.mjs}" extra="${5:-}" dir="$TMP/$1" port up="" prc=0 line
	mkdir -p "$dir/data" "$dir/state" "$artifacts"
	# A folder of 10,000 files for the big-folder check, made on disk (fast) before the start.
	if [ "$script" = test.mjs ]; then
		mkdir -p "$dir/data/zz 10000 files"
		(cd "$dir/data/zz 10000 files" && seq -f 'file-%05g.txt' 1 10000 | xargs touch)
	fi
	port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
	echo "== pass '$name': http://127.0.0.1:$port${prefix:-/}"
	# CORS: scripts on the origin http://localhost:PORT may use davd (the CORS check).
	# CONFIG first: it may have top-level keys, which must come before any [table].
	printf '%s\n[cors]\norigins = ["http://localhost:%s"]\n' "$extra" "$port" >"$dir/davd.toml"
	"$TMP/davd" -config "$dir/davd.toml" -root "$dir/data" -state "$dir/state" -listen "127.0.0.1:$port" -prefix "$prefix" \
		>"$dir/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
		sleep 0.1
	done
	if [ -z "$up" ]; then
		echo "davd did not start on 127.0.0.1:$port; its log:"
		cat "$dir/server.log"
		stop_server
		total_fail=$((total_fail + 1)); rc=1
		return
	fi
	DAVD_URL="http://127.0.0.1:$port" DAVD_PREFIX="$prefix" ARTIFACTS_DIR="$artifacts" \
		SUMMARY_FILE="$dir/summary" timeout -k 5 180 node "$here/$script" || prc=$?
	stop_server
	if [ "$prc" -ne 0 ]; then
		echo "--- server log of pass '$name' (last 40 lines) ---"
		tail -n 40 "$dir/server.log" || true
		rc=1
	fi
	line="$(cat "$dir/summary" 2>/dev/null || true)"
	if [[ "$line" =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
		total_pass=$((total_pass + BASH_REMATCH[1]))
		total_fail=$((total_fail + BASH_REMATCH[2]))
	fi
	# A crash that wrote no failure still counts as one.
	if [ "$prc" -ne 0 ] && ! [[ "$line" =~ \ [1-9][0-9]*\ failed ]]; then
		total_fail=$((total_fail + 1))
	fi
}

run_pass root "" "$ARTIFACTS_DIR"
# The same scenario under a -prefix with a space, so every href and Destination is escaped.
run_pass prefix "/dav files" "$ARTIFACTS_DIR/prefix"
# Share links need a signed-in user: a server with one, and the share scenario.
export DAVD_USER=sharer DAVD_PASSWORD="share-test-$$"
hash="$(printf '%s\n' "$DAVD_PASSWORD" | "$TMP/davd" hash-password -cost 4)"
run_pass share "" "$ARTIFACTS_DIR" share.mjs "$(printf 'nextcloud_layout = true\n[[users]]\nname = "%s"\npassword = "%s"\n' "$DAVD_USER" "$hash")"

cleanup
trap - EXIT
summary "$total_pass" "$total_fail"
exit "$rc"
