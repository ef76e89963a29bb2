#!/usr/bin/env bash
# davload.sh - run WebDAV workloads against one server; bench/run.sh calls it once per
# (round, workload, server) cell, but it works against any server on its own.
#
#   davload.sh --gen DIR                       generate the data tree in DIR/bench (once)
#   davload.sh URL DIR LABEL WORKLOAD...       run workloads against URL (which serves DIR)
#
# Output, one figure per line:  LABEL WORKLOAD METRIC VALUE UNIT   (e.g. "davd get_4k rps 61234.5 req/s")
# A refused workload prints "LABEL WORKLOAD status CODE http"; a 207 lacking resources prints
# "incomplete GOT/WANT".
#
# Workloads:
#   setup_dead      PROPPATCH three dead properties onto each file of bench/dead1k (run once per server)
#   pf_allprop_1k pf_props_1k pf_allprop_10k pf_props_10k pf_dead_1k
#                   wrk PROPFIND Depth 1 (allprop, or 4 named props) of 1,000 / 10,000 files;
#                   pf_dead_1k: allprop of the 1,000 files carrying dead properties
#   pf_dinf         curl PROPFIND Depth infinity allprop of 20,221 resources (ms to last byte)
#   get_4k get_1g   wrk GET 4 KiB; curl GET of the big file (MB/s)
#   put_4k put_1g   wrk PUT 4 KiB of new names; curl PUT of the big file (MB/s)
#   mixed           wrk cycle PUT/GET/PROPFIND/DELETE (lua/mixed.lua)
#   copymove        COPY, MOVE, DELETE of a 1,000-file collection (ms)
#
# Env: BENCH_DURATION (5) wrk seconds; BENCH_THREADS (2) BENCH_CONNS (8); BENCH_PID ("PID ...")
# server process trees whose peak RSS (VmHWM, reset before the workload) and, for the wrk
# workloads, CPU time per request (user+system, "cpu_us") are reported;
# BENCH_BIG_MB (1024); BENCH_REPS (3) repetitions of the curl workloads; BENCH_MAXTIME (120) s;
# BENCH_TEMPLATE (a generated tree to copy from; big file hard-linked).
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TREE_TAG=davd-bench-tree-2
BIG_MB=${BENCH_BIG_MB:-1024}
DUR=${BENCH_DURATION:-5}
THR=${BENCH_THREADS:-2}
CON=${BENCH_CONNS:-8}
REPS=${BENCH_REPS:-3}
MAXTIME=${BENCH_MAXTIME:-120}
XML='Content-Type: application/xml; charset="utf-8"'
ALLPROP='<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'

die() { echo "davload: $*" >&2; exit 2; }

# ------------------------------------------------------------------ data tree
# c1k 1,000 files, c10k 10,000, dead1k 1,000 (dead properties added by setup_dead), mixed 100,
# tree 20 x 10 x 100 files (20,221 resources with the collections), small/4k.bin, big/big.bin.
mkfiles() { # DIR COUNT WIDTH
	local d=$1 n=$2 w=$3 i f
	mkdir -p "$d" || return 1
	for ((i = 0; i < n; i++)); do
		printf -v f '%s/f%0*d.txt' "$d" "$w" "$i"
		printf 'davd bench file %s: the quick brown fox jumps over the lazy dog 0123456789abcdef\n' "$i" >"$f"
	done
}
gen() { # DIR
	local b=$1/bench t a s
	[ -f "$b/.$TREE_TAG-$BIG_MB" ] && return 0
	rm -rf "$b" && mkdir -p "$b/small" "$b/big" || die "cannot create $b"
	t=${BENCH_TEMPLATE:-}
	if [ -n "$t" ] && [ "$(realpath -m "$t")" != "$(realpath -m "$1")" ]; then
		gen "$t" || return 1
		t=$t/bench
		cp -a "$t/c1k" "$t/c10k" "$t/dead1k" "$t/mixed" "$t/tree" "$b/" && cp -a "$t/small/4k.bin" "$b/small/" &&
			{ ln "$t/big/big.bin" "$b/big/big.bin" 2>/dev/null || cp "$t/big/big.bin" "$b/big/"; } || die "copy failed"
	else
		mkfiles "$b/c1k" 1000 4 && mkfiles "$b/c10k" 10000 5 && mkfiles "$b/dead1k" 1000 4 &&
			mkfiles "$b/mixed" 100 3 || die "cannot write $b"
		for a in $(seq -w 0 19); do for s in $(seq 0 9); do mkfiles "$b/tree/d$a/s$s" 100 3; done; done
		head -c 4096 /dev/urandom >"$b/small/4k.bin"
		head -c $((BIG_MB << 20)) /dev/urandom >"$b/big/big.bin" || die "cannot write the big file"
	fi
	touch "$b/.$TREE_TAG-$BIG_MB"
}
if [ "${1:-}" = --gen ]; then
	[ $# = 2 ] || die "usage: $0 --gen DIR"
	mkdir -p "$2" && gen "$2"
	exit
fi
[ $# -ge 4 ] || die "usage: $0 URL DIR LABEL WORKLOAD...   |   $0 --gen DIR"
command -v wrk >/dev/null && command -v curl >/dev/null || die "wrk and curl are needed"
BASE=${1%/}
SERVED=$2
LABEL=$3
shift 3
U=$BASE/bench
P=$(sed -E 's#^[a-zA-Z]+://[^/]+##' <<<"$BASE")/bench # URL path, for the wrk scripts
[ -d "$SERVED/bench" ] || die "no tree in $SERVED (run --gen)"
W=$(mktemp -d) || die mktemp
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM
RUN=$(date +%s%N | tail -c 10)$$

emit() { echo "$LABEL $1 $2 $3 $4"; }

# ------------------------------------------------------------------ peak RSS over process trees
pids() {
	[ -n "${BENCH_PID:-}" ] || return 0
	ps -e -o pid=,ppid= | awk -v roots="$BENCH_PID" 'BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) in_[r[i]] = 1 }
		{ up[$1] = $2 } END { do { c = 0; for (p in up) if (!(p in in_) && (up[p] in in_)) { in_[p] = 1; c = 1 } } while (c)
		for (p in in_) if (p in up) print p }'
}
rss_reset() { local p; for p in $(pids); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null; done; return 0; }
# cpu_ticks: user+system clock ticks of the server process trees (the fields after the command
# name, which may hold spaces); processes that exit in between take their ticks with them.
cpu_ticks() {
	local p t=0 v
	for p in $(pids); do
		v=$(sed -E 's/^.*\) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
rss_emit() { # WORKLOAD: sum of VmHWM (KiB)
	[ -n "${BENCH_PID:-}" ] || return 0
	local p t=0 v
	for p in $(pids); do v=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$p/status" 2>/dev/null); t=$((t + ${v:-0})); done
	emit "$1" rss_peak "$t" KiB
}

# ------------------------------------------------------------------ helpers
req() { # METHOD URL [curl args] -> "code bytes seconds"
	local m=$1 u=$2
	shift 2
	curl -s -o /dev/null --max-time "$MAXTIME" -X "$m" -w '%{http_code} %{size_download} %{time_total}\n' "$@" "$u" || echo "000 0 0"
}
code_of() { req "$@" | cut -d' ' -f1; }
stats() { # WORKLOAD METRIC UNIT < values: median, min, max, reps
	sort -g | awk -v L="$LABEL" -v w="$1" -v m="$2" -v u="$3" '{ v[NR] = $1 } END { if (!NR) exit
		med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%s %s %s %.6g %s\n%s %s %s_min %.6g %s\n%s %s %s_max %.6g %s\n%s %s reps %d count\n", L, w, m, med, u, L, w, m, v[1], u, L, w, m, v[NR], u, L, w, NR }'
}
wrk_run() { # WORKLOAD SCRIPT URL [VAR=VALUE...]   (WRK_T overrides the thread count)
	local wl=$1 script=$2 url=$3 out
	shift 3
	rss_reset
	local t0 t1
	t0=$(cpu_ticks)
	out=$(env BENCH_LUA="$HERE/lua" "$@" timeout $((DUR + 60)) wrk -t"${WRK_T:-$THR}" -c"$CON" -d"${DUR}s" --timeout 30s \
		-s "$HERE/lua/$script" "$url" 2>&1)
	t1=$(cpu_ticks)
	if ! grep -q '^WRK rps' <<<"$out"; then
		emit "$wl" error 1 wrk
		tail -3 <<<"$out" >&2
		return 1
	fi
	# The server's CPU time per request: unlike req/s it hardly depends on how the two cores are
	# shared with wrk.
	[ -n "${BENCH_PID:-}" ] && awk -v L="$LABEL" -v w="$wl" -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
		'/^WRK requests / && $3 > 0 { printf "%s %s cpu_us %.1f us\n", L, w, d * 1e6 / hz / $3 }' <<<"$out"
	awk -v L="$LABEL" -v w="$wl" '/^WRK requests 0$/ { none = 1 } /^WRK / { if (none && $2 ~ /^lat_/) next
		u = $2 == "rps" ? "req/s" : $2 ~ /_ms$/ ? "ms" : $2 == "bytes_per_s" ? "B/s" : "count"; print L, w, $2, $3, u }' <<<"$out"
	rss_emit "$wl"
}
probe() { # WORKLOAD URL DEPTH BODY WANT: one PROPFIND checked for status and completeness
	local wl=$1 url=$2 depth=$3 body=$4 want=$5 code size t n
	read -r code size t <<<"$(curl -s -o "$W/pf.xml" --max-time "$MAXTIME" -X PROPFIND -H "Depth: $depth" -H "$XML" \
		--data-binary "$body" -w '%{http_code} %{size_download} %{time_total}' "$url" || echo 000)"
	emit "$wl" status "${code:-000}" http
	[ "$code" = 207 ] || return 1
	emit "$wl" bytes "$size" B
	n=$(grep -o -E '<([A-Za-z0-9_]+:)?response[ >]' "$W/pf.xml" | wc -l)
	[ "$n" = "$want" ] || emit "$wl" incomplete "$n/$want" entries
	echo "$t" >"$W/probe_t"
}
settle() { timeout 30 sync; return 0; } # no dirty pages of an earlier workload pending

# ------------------------------------------------------------------ workloads
DEAD_BODY='<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:example:bench"><D:set><D:prop>
<Z:author>bench writer</Z:author><Z:tags><Z:tag>alpha</Z:tag><Z:tag>beta</Z:tag></Z:tags>
<Z:rating>5</Z:rating></D:prop></D:set></D:propertyupdate>'

setup_dead() { # one curl process, one keep-alive connection, 1,000 PROPPATCH
	local f
	printf '%s' "$DEAD_BODY" >"$W/pp.xml"
	local sep=""
	for f in "$SERVED"/bench/dead1k/*.txt; do
		printf '%surl = "%s/dead1k/%s"\nrequest = "PROPPATCH"\nheader = "%s"\ndata-binary = "@%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
			"$sep" "$U" "${f##*/}" "$XML" "$W/pp.xml"
		sep=$'next\n'
	done >"$W/pp.cfg"
	curl -s --max-time 120 -K "$W/pp.cfg" | sort | uniq -c | awk -v L="$LABEL" '{ print L, "setup_dead status_" $2, $1, "count" }'
	# how many of the 3,000 dead properties an allprop PROPFIND reports
	curl -s --max-time "$MAXTIME" -X PROPFIND -H 'Depth: 1' -H "$XML" --data-binary "$ALLPROP" "$U/dead1k/" |
		grep -o -E '<([A-Za-z0-9_]+:)?(author|tags|rating)[ >]' | wc -l | awk -v L="$LABEL" '{ print L, "setup_dead with_dead", $1, "count" }'
}

pf() { # WORKLOAD COLLECTION KIND WANT
	local body=$ALLPROP
	[ "$3" = props ] && body='<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>'
	probe "$1" "$U/$2/" 1 "$body" "$4" || return 0
	wrk_run "$1" propfind.lua "$U/$2/" BENCH_DEPTH=1 BENCH_BODY="$3"
}

pf_dinf() {
	local want i
	want=$(find "$SERVED/bench/tree" | wc -l)
	rss_reset
	probe pf_dinf "$U/tree/" infinity "$ALLPROP" "$want" || return 0
	for ((i = 0; i < REPS; i++)); do
		curl -s -o /dev/null --max-time "$MAXTIME" -X PROPFIND -H 'Depth: infinity' -H "$XML" --data-binary "$ALLPROP" \
			-w '%{http_code} %{time_total}\n' "$U/tree/"
	done | awk '$1 == 207 { printf "%.2f\n", $2 * 1000 }' | stats pf_dinf time ms
	rss_emit pf_dinf
}

get_4k() {
	local c
	c=$(code_of GET "$U/small/4k.bin")
	emit get_4k status "$c" http
	[ "$c" = 200 ] && wrk_run get_4k get.lua "$U/small/4k.bin"
}

get_1g() {
	local c i
	c=$(code_of HEAD "$U/big/big.bin" -I)
	emit get_1g status "$c" http
	[ "$c" = 200 ] || return 0
	rss_reset
	for ((i = 0; i < REPS + 2; i++)); do
		curl -s -o /dev/null --max-time "$MAXTIME" -w '%{http_code} %{size_download} %{speed_download}\n' "$U/big/big.bin"
	done | awk -v s=$((BIG_MB << 20)) '$1 == 200 && $2 == s { printf "%.1f\n", $3 / 1e6 }' | stats get_1g mbps MB/s
	rss_emit get_1g
}

put_4k() {
	local col=put4k-$RUN c n
	settle
	c=$(code_of MKCOL "$U/$col/")
	emit put_4k status "$c" http
	[ "$c" = 201 ] || return 0
	wrk_run put_4k put.lua "$U/$col/" BENCH_PUT_PREFIX="$P/$col/" BENCH_PUT_SIZE=4096
	n=$(find "$SERVED/bench/$col" -type f -size 4k 2>/dev/null | wc -l)
	emit put_4k files_created "$n" count
	req DELETE "$U/$col/" >/dev/null
}

put_1g() {
	local i name code size speed
	settle
	rss_reset
	for ((i = 0; i < REPS; i++)); do
		name=put1g-$RUN-$i.bin
		read -r code size speed <<<"$(curl -s -o /dev/null --max-time "$MAXTIME" -H 'Expect:' \
			-H 'Content-Type: application/octet-stream' -T "$SERVED/bench/big/big.bin" \
			-w '%{http_code} %{size_upload} %{speed_upload}' "$U/$name" || echo 000)"
		[ "$i" = 0 ] && emit put_1g status "$code" http
		[[ "$code" =~ ^20[14]$ ]] || break
		# counted only when the whole file arrived
		[ "$(stat -c %s "$SERVED/bench/$name" 2>/dev/null)" = $((BIG_MB << 20)) ] && awk -v x="$speed" 'BEGIN { printf "%.1f\n", x / 1e6 }' >>"$W/put1g"
		req DELETE "$U/$name" >/dev/null
	done
	[ -f "$W/put1g" ] && stats put_1g mbps MB/s <"$W/put1g"
	rss_emit put_1g
}

mixed() {
	local col=mixed-$RUN c
	settle
	c=$(code_of PROPFIND "$U/mixed/" -H 'Depth: 1')
	emit mixed status "$c" http
	[ "$c" = 207 ] && [ "$(code_of MKCOL "$U/$col/")" = 201 ] || return 0
	WRK_T=$CON wrk_run mixed mixed.lua "$U/mixed/" BENCH_MIXED_DIR="$P/mixed/" BENCH_MIXED_NEW="$P/$col/" BENCH_RUN="$RUN"
	req DELETE "$U/$col/" >/dev/null
}

copymove() {
	local col=cm-$RUN i code t
	settle
	req MKCOL "$U/$col/" >/dev/null
	rss_reset
	for ((i = 0; i < REPS; i++)); do
		read -r code _ t <<<"$(req COPY "$U/c1k/" -H "Destination: $U/$col/c$i/" -H 'Depth: infinity' -H 'Overwrite: F')"
		[ "$i" = 0 ] && emit copy_1k status "$code" http && emit copy_1k files "$(find "$SERVED/bench/$col/c$i" -type f 2>/dev/null | wc -l)" count
		[[ "$code" =~ ^20[0-4]$ ]] || break
		echo "$t" >>"$W/copy"
		read -r code _ t <<<"$(req MOVE "$U/$col/c$i/" -H "Destination: $U/$col/m$i/" -H 'Overwrite: F')"
		[ "$i" = 0 ] && emit move_1k status "$code" http
		[[ "$code" =~ ^20[0-4]$ ]] || break
		echo "$t" >>"$W/move"
		read -r code _ t <<<"$(req DELETE "$U/$col/m$i/")"
		[ "$i" = 0 ] && emit delete_1k status "$code" http
		[[ "$code" =~ ^20[0-4]$ ]] || break
		echo "$t" >>"$W/del"
	done
	for w in copy move del; do
		[ -f "$W/$w" ] && awk '{ printf "%.3f\n", $1 * 1000 }' "$W/$w" | stats "${w/del/delete}_1k" time ms
	done
	rss_emit copymove
	req DELETE "$U/$col/" >/dev/null
}

c=$(code_of OPTIONS "$U/")
[ "$c" = 200 ] || [ "$c" = 204 ] || die "$LABEL: OPTIONS $U/ answered $c"
for wl in "$@"; do
	case $wl in
	setup_dead) setup_dead ;;
	pf_allprop_1k) pf "$wl" c1k allprop 1001 ;;
	pf_props_1k) pf "$wl" c1k props 1001 ;;
	pf_allprop_10k) pf "$wl" c10k allprop 10001 ;;
	pf_props_10k) pf "$wl" c10k props 10001 ;;
	pf_dead_1k) pf "$wl" dead1k allprop 1001 ;;
	pf_dinf | get_4k | get_1g | put_4k | put_1g | mixed | copymove) "$wl" ;;
	*) die "unknown workload $wl" ;;
	esac
done
