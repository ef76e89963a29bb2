#!/usr/bin/env bash
# bench.sh - the HTTP/1.1 ceiling: the same handler served by net/http and by a minimal
# http.ReadRequest loop (main.go), beside nginx, with wrk; req/s and user/sys CPU per request.
#
#   bench/ceiling/bench.sh [-r REPS] [-d SECONDS] [-c "CONFIGS"] [-w "WORKLOADS"] [-t DIR] [-p]
#
#   -r  repetitions (default 3); configurations are interleaved, the starting one rotates
#   -d  wrk seconds per measured run (default 5), after a 1 s warm-up
#   -c  configurations NAME:PROCS (PROCS = GOMAXPROCS, or nginx worker_processes), default
#         "nethttp:1 nethttp:2 loop:1 loop:2 nginx:1 nginx:2 nethttp_nt:2 loopbuf:2"
#         nethttp     net/http with davd's ReadHeaderTimeout/IdleTimeout/MaxHeaderBytes
#         nethttp_nt  net/http without them
#         loop        the minimal loop (GET body via sendfile)
#         loopbuf     the loop with a buffered copy instead of sendfile (GET only)
#         raw         no net/http at all: the head parsed by hand, GET from memory (raw.go)
#         davd        $DAVD_BIN at its defaults (fsync on, access log on) serving the same tree
#         nginx       /usr/sbin/nginx, dav_methods PUT, sendfile on, workers as nobody
#   -w  workloads (default "put get"): put = PUT 4 KiB to a new name, get = GET /small/4k.bin
#   -t  work directory: data and results go there (default: mktemp -d -p /dev/shm)
#   -p  also count syscalls per request with `perf stat` (only if perf works; perturbs the CPU figures)
#
# Results: DIR/results.txt (one line per run) and DIR/summary.txt (medians [min..max], summarize.sh).
# Servers listen on 127.0.0.1:18401.. (BENCH_PORT_BASE, default 18400), one at a time, and are
# stopped by PID; every wrk and curl is bounded by a timeout. Defaults: ~2 min per repetition.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
LUA=$(cd "$HERE/../lua" && pwd) || exit 1
REPS=3
DUR=5
CONFIGS="nethttp:1 nethttp:2 loop:1 loop:2 nginx:1 nginx:2 nethttp_nt:2 loopbuf:2"
WORKLOADS="put get"
W=""
PERF=0
while getopts "r:d:c:w:t:p" opt; do
	case $opt in
	r) REPS=$OPTARG ;;
	d) DUR=$OPTARG ;;
	c) CONFIGS=$OPTARG ;;
	w) WORKLOADS=$OPTARG ;;
	t) W=$OPTARG ;;
	p) PERF=1 ;;
	*) sed -n '2,22p' "$0" >&2; exit 2 ;;
	esac
done
PORT_BASE=${BENCH_PORT_BASE:-18400}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
NGINX=${NGINX:-/usr/sbin/nginx}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
PERF_EVENTS=${PERF_EVENTS:-"raw_syscalls:sys_enter,context-switches,cpu-migrations,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_sendfile64,syscalls:sys_enter_getrandom,syscalls:sys_enter_tgkill,syscalls:sys_enter_sched_yield"}

log() { echo "[ceiling $(date +%H:%M:%S)] $*" >&2; }
die() { log "$*"; exit 1; }

command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
command -v curl >/dev/null || die "curl is missing"
for f in put.lua get.lua report.lua; do [ -f "$LUA/$f" ] || die "missing $LUA/$f"; done
if [[ " $CONFIGS " == *" nginx:"* ]] && [ ! -x "$NGINX" ]; then
	log "no $NGINX: nginx configurations dropped"
	CONFIGS=$(tr ' ' '\n' <<<"$CONFIGS" | grep -v '^nginx:' | tr '\n' ' ')
fi
if [ "$PERF" = 1 ] && ! perf stat -x, -e "$PERF_EVENTS" -o /dev/null true >/dev/null 2>&1; then
	log "perf stat does not work here (events: $PERF_EVENTS): no syscall counts"
	PERF=0
fi

# ------------------------------------------------------------------ work directory
if [ -z "$W" ]; then
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] || die "/dev/shm is not a tmpfs: give a tmpfs directory with -t"
	W=$(mktemp -d -p /dev/shm ceiling.XXXXXX) || exit 1
else
	mkdir -p "$W" || exit 1
	W=$(cd "$W" && pwd)
	[ "$(stat -f -c %T "$W")" = tmpfs ] || log "warning: $W is not a tmpfs; PUT figures on a disk file system are erratic"
fi
chmod 755 "$W"
mkdir -p "$W/runs" "$W/bin"
chmod 755 "$W/runs"
OUT=$W/results.txt
RUNAS=nobody
RUNAS_GROUP=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1

SPID=""
PERFPID=""
stop_pid() { # PID: TERM, wait up to 5 s, KILL
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
cleanup() {
	[ -n "$PERFPID" ] && kill -INT "$PERFPID" 2>/dev/null
	[ -n "$SPID" ] && stop_pid "$SPID"
	rm -rf "$W/runs" "$W/bin"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

log "work directory $W"
(cd "$HERE" && GOWORK=off "$GO" build -o "$W/bin/ceiling" .) || die "go build failed"
BIN=$W/bin/ceiling
head -c 4096 /dev/urandom >"$W/4k.bin"

# ------------------------------------------------------------------ helpers
# utime+stime ticks and context switches over the given pids (all their threads)
cpu_of() {
	local u=0 s=0 cs=0 p t f u1 s1
	for p in "$@"; do
		read -r u1 s1 < <(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12, $13}')
		u=$((u + u1)) s=$((s + s1))
		for t in /proc/"$p"/task/*/status; do
			f=$(awk '/ctxt_switches/ {n+=$2} END {print n+0}' "$t" 2>/dev/null)
			cs=$((cs + ${f:-0}))
		done
	done
	echo "$u $s $cs"
}

server_pids() { echo "$1" $(pgrep -P "$1"); } # pid + its children (nginx workers)

port_of() { # cfg → port: base + position in CONFIGS' names
	local i=1 c
	for c in nethttp nethttp_nt loop loopbuf raw davd nginx; do
		[ "$c" = "$1" ] && { echo $((PORT_BASE + i)); return; }
		i=$((i + 1))
	done
}

start_server() { # cfg procs dir port → SPID
	local cfg=$1 procs=$2 d=$3 port=$4
	case $cfg in
	nethttp) GOMAXPROCS=$procs "$BIN" -mode=nethttp -addr "127.0.0.1:$port" -dir "$d" >"$d/server.log" 2>&1 & ;;
	nethttp_nt) GOMAXPROCS=$procs "$BIN" -mode=nethttp -timeouts=false -addr "127.0.0.1:$port" -dir "$d" >"$d/server.log" 2>&1 & ;;
	loop) GOMAXPROCS=$procs "$BIN" -mode=loop -addr "127.0.0.1:$port" -dir "$d" >"$d/server.log" 2>&1 & ;;
	raw) GOMAXPROCS=$procs "$BIN" -mode=raw -addr "127.0.0.1:$port" -dir "$d" >"$d/server.log" 2>&1 & ;;
	davd) GOMAXPROCS=$procs "${DAVD_BIN:?davd needs DAVD_BIN}" -root "$d" -listen "127.0.0.1:$port" -state "$d.davd-state" >"$d.davd.log" 2>&1 & ;;
	loopbuf) GOMAXPROCS=$procs "$BIN" -mode=loop -sendfile-min=65536 -addr "127.0.0.1:$port" -dir "$d" >"$d/server.log" 2>&1 & ;;
	nginx)
		local user=""
		[ $ROOT = 1 ] && user="user $RUNAS $RUNAS_GROUP;"
		mkdir -p "$d/conf" "$d/body" "$d/logs"
		cat >"$d/conf/nginx.conf" <<-EOF
			daemon off;
			master_process on;
			worker_processes $procs;
			$user
			pid $d/conf/nginx.pid;
			error_log $d/logs/error.log warn;
			events { worker_connections 1024; }
			http {
			  access_log off;
			  default_type application/octet-stream;
			  sendfile on;
			  tcp_nopush on;
			  keepalive_requests 1000000;
			  client_max_body_size 0;
			  client_body_temp_path $d/body;
			  proxy_temp_path $d/conf/proxy; fastcgi_temp_path $d/conf/fcgi; uwsgi_temp_path $d/conf/uwsgi; scgi_temp_path $d/conf/scgi;
			  server {
			    listen 127.0.0.1:$port;
			    root $d;
			    location /put/ { dav_methods PUT; dav_access user:rw group:r all:r; }
			  }
			}
		EOF
		[ $ROOT = 1 ] && chown -R "$RUNAS:$RUNAS_GROUP" "$d"
		"$NGINX" -p "$d/conf/" -c "$d/conf/nginx.conf" -e "$d/logs/error.log" >"$d/server.log" 2>&1 &
		;;
	*) die "unknown configuration $cfg" ;;
	esac
	SPID=$!
}

wait_up() { # port
	local code
	for _ in $(seq 100); do
		kill -0 "$SPID" 2>/dev/null || return 1
		code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/small/4k.bin")
		[ "$code" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

wrk_run() { # wl port dur prefix → wrk output
	local wl=$1 port=$2 dur=$3 prefix=$4
	if [ "$wl" = put ]; then
		BENCH_LUA=$LUA BENCH_PUT_PREFIX=$prefix timeout $((dur + 15)) wrk -t2 -c8 -d"${dur}s" -s "$LUA/put.lua" "http://127.0.0.1:$port/"
	else
		BENCH_LUA=$LUA timeout $((dur + 15)) wrk -t2 -c8 -d"${dur}s" -s "$LUA/get.lua" "http://127.0.0.1:$port/small/4k.bin"
	fi
}

gostats() { # pid logfile → mallocs of the last STATS line after a SIGUSR2
	kill -USR2 "$1"
	sleep 0.2
	awk '/^STATS/ {m=$3} END {print m+0}' "$2"
}

FAILED=0
run_one() { # cfg procs wl rep
	local cfg=$1 procs=$2 wl=$3 rep=$4
	local port d
	port=$(port_of "$cfg")
	d=$W/runs/$cfg-$procs-$wl-$rep
	rm -rf "$d"
	mkdir -p "$d/small" "$d/put"
	cp "$W/4k.bin" "$d/small/4k.bin"
	start_server "$cfg" "$procs" "$d" "$port"
	if ! wait_up "$port"; then
		log "FAILED $cfg $procs $wl: server did not come up: $(tail -3 "$d/server.log" "$d/logs/error.log" 2>/dev/null)"
		stop_pid "$SPID"; SPID=""; FAILED=$((FAILED + 1)); rm -rf "$d"
		return
	fi
	# a PUT must answer 201/204 and the file must arrive (a permission error makes nginx fast),
	# a GET must answer 200 with 4096 bytes; otherwise the run is not measured
	local pc gc
	pc=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -T "$W/4k.bin" "http://127.0.0.1:$port/put/check.bin")
	gc=$(curl -s -m 5 -o /dev/null -w '%{http_code}:%{size_download}' "http://127.0.0.1:$port/small/4k.bin")
	if [ ! -s "$d/put/check.bin" ] || { [ "$pc" != 201 ] && [ "$pc" != 204 ]; } || [ "$gc" != 200:4096 ]; then
		log "FAILED $cfg $procs $wl: check put=$pc get=$gc, not measured"
		stop_pid "$SPID"; SPID=""; FAILED=$((FAILED + 1)); rm -rf "$d"
		return
	fi
	wrk_run "$wl" "$port" 1 /put/warm- >/dev/null 2>&1
	timeout 30 sync
	local pids m0=0 m1=0 c0 c1
	pids=$(server_pids "$SPID")
	[ "$cfg" != nginx ] && [ "$cfg" != davd ] && m0=$(gostats "$SPID" "$d/server.log")
	c0=$(cpu_of $pids)
	if [ "$PERF" = 1 ]; then
		perf stat -x, -e "$PERF_EVENTS" -p "$(echo $pids | tr ' ' ,)" -o "$d/perf.txt" &
		PERFPID=$!
	fi
	wrk_run "$wl" "$port" "$DUR" "/put/r$rep-" >"$d/wrk.txt" 2>&1
	if [ -n "$PERFPID" ]; then kill -INT "$PERFPID"; wait "$PERFPID"; PERFPID=""; fi
	c1=$(cpu_of $pids)
	[ "$cfg" != nginx ] && [ "$cfg" != davd ] && m1=$(gostats "$SPID" "$d/server.log")
	stop_pid "$SPID"
	SPID=""
	local req rps es esock p99 files=-
	req=$(awk '/^WRK requests/ {print $3}' "$d/wrk.txt")
	rps=$(awk '/^WRK rps/ {print $3}' "$d/wrk.txt")
	es=$(awk '/^WRK err_status/ {print $3}' "$d/wrk.txt")
	esock=$(awk '/^WRK err_sock/ {print $3}' "$d/wrk.txt")
	p99=$(awk '/^WRK lat_p99_ms/ {print $3}' "$d/wrk.txt")
	if [ -z "$req" ]; then
		log "FAILED $cfg $procs $wl: no wrk summary: $(tail -2 "$d/wrk.txt")"
		FAILED=$((FAILED + 1)); rm -rf "$d"
		return
	fi
	[ "$wl" = put ] && files=$(find "$d/put" -maxdepth 1 -name 'r*' | wc -l)
	set -- $c0 $c1
	local line
	line=$(awk -v cfg="$cfg" -v p="$procs" -v wl="$wl" -v rep="$rep" -v req="$req" -v rps="${rps:-0}" -v tk=$TICK_US \
		-v u0="$1" -v s0="$2" -v x0="$3" -v u1="$4" -v s1="$5" -v x1="$6" -v m0="$m0" -v m1="$m1" \
		-v es="${es:-?}" -v esock="${esock:-?}" -v files="$files" -v p99="${p99:-0}" \
		'BEGIN { if (req == 0) req = 1; printf "%s %s %s %s rps %.0f user_us %.2f sys_us %.2f cs_per_req %.2f allocs_per_req %.1f err_status %s err_sock %s files %s req %d p99_ms %s\n",
			cfg, p, wl, rep, rps, (u1-u0)*tk/req, (s1-s0)*tk/req, (x1-x0)/req, (m1-m0)/req, es, esock, files, req, p99 }')
	if [ -f "$d/perf.txt" ]; then
		line="$line PERF $(awk -F, -v req="$req" '/^[0-9]/ {split($3,a,":"); n=a[length(a)]; sub(/sys_enter_/,"",n); printf "%s=%.2f ", n, $1/req}' "$d/perf.txt")"
	fi
	echo "$line" | tee -a "$OUT"
	rm -rf "$d"
}

# ------------------------------------------------------------------ rounds
read -ra CFGS <<<"$CONFIGS"
N=${#CFGS[@]}
for rep in $(seq "$REPS"); do
	for wl in $WORKLOADS; do
		for ((k = 0; k < N; k++)); do
			c=${CFGS[$(((k + rep - 1) % N))]}
			cfg=${c%%:*} procs=${c##*:}
			[ "$cfg" = loopbuf ] && [ "$wl" = put ] && continue
			run_one "$cfg" "$procs" "$wl" "$rep"
		done
	done
done

if [ -s "$OUT" ]; then
	"$HERE/summarize.sh" "$OUT" | tee "$W/summary.txt"
fi
log "results: $OUT, $W/summary.txt"
[ "$FAILED" = 0 ] || { log "$FAILED run(s) failed"; exit 1; }
