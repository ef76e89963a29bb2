#!/usr/bin/env bash
# profile.sh - CPU (and allocation) profiles of davd while a workload runs.
#
#   bench/profile.sh [-d SECONDS] [-w "WORKLOADS"] [-o OUTDIR] [-t BASEDIR]
#
# Builds ./cmd/davd (or uses $DAVD_BIN), serves a generated tree (BENCH_BIG_MB, default 256 here) with -pprof, adds the
# dead properties, and for each workload (default: pf_allprop_1k pf_allprop_10k pf_dead_1k get_4k
# put_4k mixed) runs davload.sh while /debug/pprof/profile and /debug/pprof/allocs record
# SECONDS-2 s of it (default -d 12). Writes OUTDIR/WORKLOAD.cpu.pb.gz, .allocs.pb.gz, and
# WORKLOAD.txt (top functions, flat and cumulative, and the workload's figures).
# Ports 18180 (davd) and 18181 (pprof) on 127.0.0.1 (BENCH_PROF_PORT).
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
DUR=12
WORKLOADS="pf_allprop_1k pf_allprop_10k pf_dead_1k get_4k put_4k mixed"
OUT=""
BASEDIR=/dev/shm
while getopts "d:w:o:t:" opt; do
	case $opt in
	d) DUR=$OPTARG ;;
	w) WORKLOADS=$OPTARG ;;
	o) OUT=$OPTARG ;;
	t) BASEDIR=$OPTARG ;;
	*) sed -n '2,12p' "$0" >&2; exit 2 ;;
	esac
done
[ "$DUR" -ge 4 ] || { echo "profile: -d must be >= 4" >&2; exit 2; }
PORT=${BENCH_PROF_PORT:-18180}
export BENCH_BIG_MB=${BENCH_BIG_MB:-256} BENCH_DURATION=$DUR
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
TMP=$(mktemp -d -p "$BASEDIR" davd-prof.XXXXXX) || exit 1
OUT=${OUT:-$TMP/out}
mkdir -p "$OUT"
DPID=""
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${DAVD_BIN:-}" ]; then
	cp "$DAVD_BIN" "$TMP/davd" || exit 1
else
	(cd "$REPO" && "$GO" build -o "$TMP/davd" ./cmd/davd) || exit 1
fi
cp "$TMP/davd" "$OUT/davd.bin" # pprof needs the binary for symbols of inlined frames
"$HERE/davload.sh" --gen "$TMP/tree" || exit 1
"$TMP/davd" -root "$TMP/tree" -listen "127.0.0.1:$PORT" -state "$TMP/state" -no-fsync -access-log=false \
	-propfind-infinity -pprof "127.0.0.1:$((PORT + 1))" >"$TMP/davd.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do curl -s -o /dev/null -m 1 "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
"$HERE/davload.sh" "http://127.0.0.1:$PORT/" "$TMP/tree" davd setup_dead >&2
P="http://127.0.0.1:$((PORT + 1))/debug/pprof"
for wl in $WORKLOADS; do
	echo "[profile] $wl" >&2
	BENCH_PID=$DPID timeout $((DUR + 120)) "$HERE/davload.sh" "http://127.0.0.1:$PORT/" "$TMP/tree" davd "$wl" >"$TMP/$wl.fig" &
	L=$!
	sleep 1.5
	curl -s -m $((DUR + 10)) -o "$OUT/$wl.allocs.pb.gz" "$P/allocs?seconds=$((DUR - 3))" &
	A=$!
	curl -s -m $((DUR + 10)) -o "$OUT/$wl.cpu.pb.gz" "$P/profile?seconds=$((DUR - 3))"
	wait "$A" "$L"
	{
		grep -E ' (rps|rss_peak|time|mbps) ' "$TMP/$wl.fig"
		echo
		echo "== CPU, flat"
		"$GO" tool pprof -top -nodecount=30 "$OUT/davd.bin" "$OUT/$wl.cpu.pb.gz" 2>/dev/null
		echo
		echo "== CPU, cumulative"
		"$GO" tool pprof -top -cum -nodecount=45 "$OUT/davd.bin" "$OUT/$wl.cpu.pb.gz" 2>/dev/null | tail -n +6
		echo
		echo "== allocated bytes, flat"
		"$GO" tool pprof -top -sample_index=alloc_space -nodecount=20 "$OUT/davd.bin" "$OUT/$wl.allocs.pb.gz" 2>/dev/null | tail -n +5
		echo
		echo "== allocated objects, flat"
		"$GO" tool pprof -top -sample_index=alloc_objects -nodecount=20 "$OUT/davd.bin" "$OUT/$wl.allocs.pb.gz" 2>/dev/null | tail -n +5
	} >"$OUT/$wl.txt"
	head -3 "$OUT/$wl.txt" >&2
done
echo "[profile] results in $OUT" >&2
[ "$OUT" = "$TMP/out" ] && { cp -r "$OUT" "${TMPDIR:-/tmp}/davd-prof-out" && echo "[profile] copied to ${TMPDIR:-/tmp}/davd-prof-out" >&2; }
exit 0
