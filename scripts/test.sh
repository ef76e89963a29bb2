#!/usr/bin/env bash
# davd's whole test suite, the one command for developers and CI:
#
#   ./scripts/test.sh
#
# Steps: install what is missing (Debian packages, staticcheck), gofmt, go vet, staticcheck,
# unit tests with the race detector, a short run of every fuzz target, the end-to-end suites
# against the real binary (litmus, cadaver, rclone, davfs2, a Go client, restart persistence,
# Finder-style chunked PUT) and the browser UI test. Every step runs even when an earlier one
# failed; the last line is "test.sh: N passed, M failed" (steps) and the exit status is non-zero
# on any failure.
#
# Meant for a fresh Debian 12 machine as root (CI=true, no stdin); elsewhere it installs nothing
# it cannot (without root it only reports what is missing). Environment:
#   FUZZTIME   per fuzz target (default 50000x: a count of inputs, see fuzz below)
#   SKIP_INSTALL=1   do not try to install anything
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null

STATICCHECK_VERSION=v0.8.2 # honnef.co/go/tools; the release that supports Go 1.26
FUZZTIME="${FUZZTIME:-50000x}"
export DEBIAN_FRONTEND=noninteractive
GOBIN_DIR="$(go env GOPATH 2>/dev/null)/bin"
export PATH="$PATH:$GOBIN_DIR:/usr/sbin:/sbin"

passed=0
failed=0
failed_steps=()
declare -a timings=()
logdir="$(mktemp -d "${TMPDIR:-/tmp}/davd-test.XXXXXX")"
trap 'rm -rf "$logdir"' EXIT

# step NAME CMD...: runs one step under a header and records its result.
step() {
	local name="$1"
	shift
	local start=$SECONDS
	printf '\n==================== %s ====================\n' "$name"
	if "$@"; then
		passed=$((passed + 1))
		printf -- '--- %s: PASS (%ds)\n' "$name" $((SECONDS - start))
		timings+=("PASS  $name ($((SECONDS - start))s)")
	else
		failed=$((failed + 1))
		failed_steps+=("$name")
		printf -- '--- %s: FAIL (%ds)\n' "$name" $((SECONDS - start))
		timings+=("FAIL  $name ($((SECONDS - start))s)")
	fi
}

# --- setup -------------------------------------------------------------------------------------

# Debian packages by the command that proves them present. node and npm already exist on the
# project's machines (from another source): they are installed only when missing, so nothing
# replaces them.
need_packages() {
	local -a pkgs=()
	command -v litmus >/dev/null || pkgs+=(litmus)
	command -v cadaver >/dev/null || pkgs+=(cadaver)
	command -v rclone >/dev/null || pkgs+=(rclone)
	command -v mount.davfs >/dev/null || pkgs+=(davfs2)
	[ -x /usr/bin/chromium ] || pkgs+=(chromium)
	command -v node >/dev/null || pkgs+=(nodejs)
	command -v npm >/dev/null || pkgs+=(npm)
	command -v curl >/dev/null || pkgs+=(curl) # partial PUT and digests, as curl sends them
	command -v unzip >/dev/null || pkgs+=(unzip) # reads the folder downloads back
	command -v fusermount3 >/dev/null || pkgs+=(fuse3) # rclone mount, as docs/clients.md shows it
	command -v apache2 >/dev/null || pkgs+=(apache2) # docs/deployment.md's Apache block, run by e2e
	command -v caddy >/dev/null || pkgs+=(caddy) # docs/deployment.md's Caddy block, run by e2e
	command -v stdbuf >/dev/null || pkgs+=(coreutils)
	command -v gcc >/dev/null || pkgs+=(gcc libc6-dev) # cgo, for -race
	command -v mount >/dev/null || pkgs+=(mount)
	command -v etcd >/dev/null || pkgs+=(etcd-server) # cluster mode's namespace, props and locks
	command -v nginx >/dev/null || pkgs+=(nginx-light) # the load balancer in front of cluster nodes
	command -v systemd-analyze >/dev/null || pkgs+=(systemd) # verifies dist/davd.service
	[ -e /etc/ssl/certs/ca-certificates.crt ] || pkgs+=(ca-certificates)
	echo "${pkgs[@]}"
}

setup() {
	if ! command -v go >/dev/null; then
		echo "go is not installed: this project needs Go 1.26 (see go.mod)"
		return 1
	fi
	go version
	local missing
	missing="$(need_packages)"
	if [ -n "$missing" ]; then
		if [ "${SKIP_INSTALL:-}" = 1 ]; then
			echo "missing Debian packages (SKIP_INSTALL=1): $missing"
			return 1
		fi
		if [ "$(id -u)" -ne 0 ]; then
			echo "missing Debian packages, and not root: $missing"
			echo "install them with: sudo apt-get install -y --no-install-recommends $missing"
			return 1
		fi
		echo "installing Debian packages: $missing"
		apt-get update -qq || return 1
		# shellcheck disable=SC2086 # word splitting intended
		apt-get install -y -qq --no-install-recommends $missing >"$logdir/apt.log" 2>&1 || {
			tail -n 40 "$logdir/apt.log"
			return 1
		}
		missing="$(need_packages)"
		if [ -n "$missing" ]; then
			echo "still missing after apt-get install: $missing"
			return 1
		fi
	else
		echo "Debian packages: all present"
	fi
	# davfs2 needs the FUSE device (the kernel module is built in or loaded on these machines).
	if [ ! -e /dev/fuse ]; then
		command -v modprobe >/dev/null && modprobe fuse 2>/dev/null || true
		[ -e /dev/fuse ] || echo "warning: /dev/fuse does not exist; the davfs2 test will fail"
	fi
	local sc_have=""
	if [ -x "$GOBIN_DIR/staticcheck" ]; then
		sc_have="$(go version -m "$GOBIN_DIR/staticcheck" 2>/dev/null | awk '$1 == "mod" && $2 == "honnef.co/go/tools" {print $3}')"
	fi
	if [ "$sc_have" != "$STATICCHECK_VERSION" ]; then
		[ "${SKIP_INSTALL:-}" = 1 ] && { echo "staticcheck $STATICCHECK_VERSION missing (SKIP_INSTALL=1)"; return 1; }
		echo "installing staticcheck $STATICCHECK_VERSION"
		go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" || return 1
	fi
	"$GOBIN_DIR/staticcheck" -version
	for t in litmus cadaver rclone mount.davfs; do printf '%-12s %s\n' "$t" "$(command -v "$t")"; done
	rclone version 2>/dev/null | head -n 1
	echo "node $(node --version 2>/dev/null), npm $(npm --version 2>/dev/null)"
	go mod download
	versitygw || return 1
	rclone_chunking || return 1
}

# rclone_chunking: the rclone of the Nextcloud chunked-upload test (e2e/nextcloud_test.go): Debian's
# rclone 1.60 predates rclone's Nextcloud chunking (1.63), so the pinned release is built once from
# the Go module proxy and cached, as the test itself would.
rclone_chunking() {
	local v dir
	v="$(sed -n 's/^const rcloneChunkingVersion = "\(.*\)"$/\1/p' e2e/nextcloud_test.go)"
	[ -n "$v" ] || { echo "no rcloneChunkingVersion in e2e/nextcloud_test.go"; return 1; }
	dir="${XDG_CACHE_HOME:-$HOME/.cache}/davd/rclone-$v"
	if [ ! -x "$dir/rclone" ]; then
		echo "building rclone $v (once per machine)"
		GOBIN="$dir" GOFLAGS=-mod=mod GOWORK=off go install "github.com/rclone/rclone@$v" || return 1
	fi
	echo "rclone $v: $dir/rclone"
}

# versitygw: the S3 server the cluster tests run against (internal/clustertest), built once from
# the Go module proxy at the version pinned there and cached, as clustertest.VersityGW does.
versitygw() {
	local v dir
	v="$(sed -n 's/^const VersityGWVersion = "\(.*\)"$/\1/p' internal/clustertest/clustertest.go)"
	[ -n "$v" ] || { echo "no VersityGWVersion in internal/clustertest"; return 1; }
	dir="${XDG_CACHE_HOME:-$HOME/.cache}/davd/versitygw-$v"
	if [ ! -x "$dir/versitygw" ]; then
		echo "building versitygw $v (once per machine)"
		GOBIN="$dir" GOFLAGS=-mod=mod GOWORK=off go install "github.com/versity/versitygw/cmd/versitygw@$v" || return 1
	fi
	echo "versitygw $v: $dir/versitygw"
}

# --- static checks -------------------------------------------------------------------------------

gofmt_check() {
	local out
	out="$(gofmt -l . 2>&1 | grep -v '/node_modules/' || true)"
	if [ -n "$out" ]; then
		echo "gofmt -l lists files that need formatting:"
		echo "$out"
		return 1
	fi
	echo "gofmt: clean"
}

vet() {
	go vet ./... && go vet -tags e2e ./e2e/... && echo "go vet: clean"
}

static() {
	"$GOBIN_DIR/staticcheck" ./... && "$GOBIN_DIR/staticcheck" -tags e2e ./e2e/... && echo "staticcheck: clean"
}

# --- tests ----------------------------------------------------------------------------------------

unit() {
	go test -race -count=1 -timeout 15m ./...
}

# fuzz: every Fuzz target in the repository, found with go test -list, runs for FUZZTIME. A
# crasher (the target fails, and Go saves the input under testdata/fuzz) fails the step.
# FUZZTIME is a count of inputs, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report "context deadline exceeded" as a failure at the deadline on a loaded machine, with no
# failing input (golang/go#75804, fixed in Go 1.27); a count has no deadline to race.
fuzz() {
	local list rc=0 pkg name count=0
	local -a pending=()
	if ! list="$(go test -list '^Fuzz' ./... 2>&1)"; then
		echo "$list"
		return 1
	fi
	local -a targets=()
	while IFS= read -r line; do
		case "$line" in
		Fuzz*) pending+=("$line") ;;
		ok*)
			pkg="$(awk '{print $2}' <<<"$line")"
			for name in "${pending[@]}"; do targets+=("$pkg $name"); done
			pending=()
			;;
		esac
	done <<<"$list"
	if [ "${#targets[@]}" -eq 0 ]; then
		echo "no fuzz targets found"
		return 1
	fi
	for tg in "${targets[@]}"; do
		pkg="${tg% *}"
		name="${tg#* }"
		count=$((count + 1))
		echo "fuzz $pkg $name ($FUZZTIME)"
		if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime="$FUZZTIME" "$pkg" >"$logdir/fuzz.log" 2>&1; then
			rc=1
			echo "FAIL: $pkg $name"
			tail -n 40 "$logdir/fuzz.log"
		else
			tail -n 1 "$logdir/fuzz.log"
		fi
	done
	echo "fuzzed $count targets"
	return $rc
}

e2e() {
	go test -tags e2e -count=1 -v -timeout 20m ./e2e/... 2>&1 | tee "$logdir/e2e.log"
	local rc=${PIPESTATUS[0]}
	echo
	echo "e2e results:"
	grep -E '^(--- |ok |FAIL|PASS)' "$logdir/e2e.log" || true
	return "$rc"
}

browser() {
	if [ ! -f e2e/browser/run.sh ]; then
		echo "e2e/browser/run.sh does not exist: nothing to run"
		return 0
	fi
	bash e2e/browser/run.sh
}

start=$SECONDS
step "setup (packages, staticcheck)" setup
step "gofmt -l" gofmt_check
step "go vet" vet
step "staticcheck" static
step "go test -race ./..." unit
step "fuzz (every Fuzz target, $FUZZTIME each)" fuzz
step "e2e (litmus, cadaver, rclone, davfs2, gowebdav, restart, Finder)" e2e
step "browser (e2e/browser/run.sh)" browser

printf '\n==================== summary ====================\n'
printf '%s\n' "${timings[@]}"
echo "total: $((SECONDS - start))s"
if [ "$failed" -gt 0 ]; then
	echo "failed steps: ${failed_steps[*]}"
fi
echo "test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
