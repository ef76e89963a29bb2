#!/usr/bin/env bash
# run.sh - davd's benchmark: davd beside the anchor WebDAV servers, same trees, same workloads,
# servers interleaved, a table of medians with each server's ratio to the best.
#
#   bench/run.sh [-r ROUNDS] [-d SECONDS] [-s "SERVERS"] [-w "WORKLOADS"] [-t BASEDIR] [-o OUTDIR]
#                [-b BIG_MB] [-R] [-k] [-n]
#
#   -r  rounds (default 1); the table shows medians over rounds, [min..max] when ROUNDS > 1
#   -d  wrk seconds per throughput workload (default 5; env BENCH_DURATION)
#   -s  servers (default: "davd davd_fsync gohttp apache lighttpd nginx xnet"; also: rclone,
#       davd_nethttp)
#         davd        ./cmd/davd built from this checkout, -no-fsync -propfind-infinity, no access log
#         davd_fsync  the same with fsync on (PUT workloads only)
#         davd_nethttp  davd with -http1 net/http (Go's http.Server instead of server/h1; opt-in)
#         gohttp      bare Go net/http file server (GET/PUT only): the reference of "GET 4 KiB ≥ 0.95×"
#         apache      Debian apache2 mod_dav_fs      lighttpd  lighttpd mod_webdav (SQLite props)
#         nginx       nginx-extras + dav-ext         xnet      golang.org/x/net/webdav (bench/gosrv)
#         rclone      rclone serve webdav
#   -w  workloads (default: all, in this order): pf_allprop_1k pf_props_1k pf_dead_1k pf_allprop_10k
#       pf_props_10k pf_dinf get_4k get_1g put_4k put_1g mixed copymove   (see davload.sh)
#   -t  where the trees live (default /dev/shm when it is a tmpfs with >= 8 GiB free, else $TMPDIR)
#   -o  keep raw.txt, table.md and the server logs' tails in OUTDIR
#   -b  size of the big file in MiB (default 1024)
#   -R  write the table to bench/RESULTS.md (with date and machine)
#   -k  keep the temporary directory      -n  do not apt-get install missing packages
#
# Order: for every round, for every workload, every server in turn, the starting server rotating,
# so that noise from the rest of the machine spreads over all servers alike. All servers run at
# once on 127.0.0.1:18101.. (BENCH_PORT_BASE, default 18100) with their own copy of the tree and
# are stopped by PID on exit. DAVD_BIN=path measures a prebuilt davd instead of building ./cmd/davd. The whole run is bounded by BENCH_DEADLINE seconds (default 2400).
# Duration, defaults (7 servers, -d 5): ~6 min per round.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
ROUNDS=1
DUR=${BENCH_DURATION:-5}
SERVERS="davd davd_fsync gohttp apache lighttpd nginx xnet"
WORKLOADS="pf_allprop_1k pf_props_1k pf_dead_1k pf_allprop_10k pf_props_10k pf_dinf get_4k get_1g put_4k put_1g mixed copymove"
BASEDIR=""
OUTDIR=""
BIG_MB=1024
RESULTS=0
KEEP=0
INSTALL=1
while getopts "r:d:s:w:t:o:b:Rkn" opt; do
	case $opt in
	r) ROUNDS=$OPTARG ;;
	d) DUR=$OPTARG ;;
	s) SERVERS=$OPTARG ;;
	w) WORKLOADS=$OPTARG ;;
	t) BASEDIR=$OPTARG ;;
	o) OUTDIR=$OPTARG ;;
	b) BIG_MB=$OPTARG ;;
	R) RESULTS=1 ;;
	k) KEEP=1 ;;
	n) INSTALL=0 ;;
	*) sed -n '2,30p' "$0" >&2; exit 2 ;;
	esac
done
PORT_BASE=${BENCH_PORT_BASE:-18100}
DEADLINE=${BENCH_DEADLINE:-2400}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
export BENCH_DURATION=$DUR BENCH_BIG_MB=$BIG_MB

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }
has() { [[ " $SERVERS " == *" $1 "* ]]; }

# ------------------------------------------------------------------ packages
need_pkgs=()
command -v wrk >/dev/null || need_pkgs+=(wrk)
command -v curl >/dev/null || need_pkgs+=(curl)
has apache && { [ -x /usr/sbin/apache2 ] || need_pkgs+=(apache2); }
has lighttpd && { [ -f /usr/lib/lighttpd/mod_webdav.so ] || need_pkgs+=(lighttpd lighttpd-mod-webdav); }
has nginx && { [ -f /usr/lib/nginx/modules/ngx_http_dav_ext_module.so ] || need_pkgs+=(nginx-extras); }
has rclone && { command -v rclone >/dev/null || need_pkgs+=(rclone); }
if [ ${#need_pkgs[@]} -gt 0 ]; then
	if [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ]; then
		log "installing ${need_pkgs[*]}"
		# the packages' own services must not start (they would take port 80)
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >&2 || { apt-get update -q >&2 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >&2; }
		rm -f /usr/sbin/policy-rc.d
	else
		log "missing packages: ${need_pkgs[*]} (apt-get install them, or drop those servers with -s)"
		exit 1
	fi
fi

# ------------------------------------------------------------------ temporary tree, watchdog
if [ -z "$BASEDIR" ]; then
	BASEDIR=${TMPDIR:-/tmp}
	if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -ge $((8 << 20)) ]; then
		BASEDIR=/dev/shm
	fi
fi
TMP=$(mktemp -d -p "$BASEDIR" davd-bench.XXXXXX) || exit 1
chmod 755 "$TMP"
export TMPDIR=$TMP
FSTYPE=$(stat -f -c %T "$TMP")
declare -A PID URL DIR
PIDS=()
CHILD=""
WATCHDOG=""
stop_servers() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	PIDS=()
}
cleanup() {
	[ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null
	stop_servers
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
	if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM
(
	sleep "$DEADLINE" &
	s=$!
	trap 'kill $s 2>/dev/null; exit 0' TERM
	wait $s && echo "[bench] deadline of ${DEADLINE}s reached" >&2 && kill -TERM $$
) &
WATCHDOG=$!

# servers that drop privileges (apache, lighttpd, nginx workers) run as nobody and own their trees
RUNAS=nobody
RUNAS_GROUP=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)
own() { [ "$(id -u)" = 0 ] && chown -R "$RUNAS:$RUNAS_GROUP" "$@"; return 0; }

up() { # URL PID
	local code
	for _ in $(seq 150); do
		kill -0 "$2" 2>/dev/null || return 1
		code=$(curl -s -o /dev/null -m 2 -X OPTIONS -w '%{http_code}' "$1")
		[ "$code" = 200 ] || [ "$code" = 204 ] && return 0
		sleep 0.1
	done
	return 1
}

# ------------------------------------------------------------------ servers
# start_NAME NAME PORT: config under $TMP/NAME/conf, tree $TMP/NAME/served; sets PID and URL.
start_davd() {
	local c=$TMP/$1/conf
	mkdir -p "$c/state"
	"$TMP/bin/davd" -root "$TMP/$1/served" -listen "127.0.0.1:$2" -state "$c/state" -no-fsync -access-log=false \
		-propfind-infinity >"$c/davd.log" 2>&1 &
	PID[$1]=$!
	URL[$1]=http://127.0.0.1:$2/
}
start_davd_nethttp() {
	local c=$TMP/$1/conf
	mkdir -p "$c/state"
	"$TMP/bin/davd" -root "$TMP/$1/served" -listen "127.0.0.1:$2" -state "$c/state" -no-fsync -access-log=false \
		-propfind-infinity -http1 net/http >"$c/davd.log" 2>&1 &
	PID[$1]=$!
	URL[$1]=http://127.0.0.1:$2/
}
start_davd_fsync() {
	local c=$TMP/$1/conf
	mkdir -p "$c/state"
	"$TMP/bin/davd" -root "$TMP/$1/served" -listen "127.0.0.1:$2" -state "$c/state" -access-log=false >"$c/davd.log" 2>&1 &
	PID[$1]=$!
	URL[$1]=http://127.0.0.1:$2/
}
start_gohttp() {
	"$TMP/bin/gosrv" -mode static -addr "127.0.0.1:$2" -dir "$TMP/$1/served" >"$TMP/$1/conf/gosrv.log" 2>&1 &
	PID[$1]=$!
	URL[$1]=http://127.0.0.1:$2/
}
start_xnet() {
	"$TMP/bin/gosrv" -mode xnet -addr "127.0.0.1:$2" -dir "$TMP/$1/served" >"$TMP/$1/conf/gosrv.log" 2>&1 &
	PID[$1]=$!
	URL[$1]=http://127.0.0.1:$2/
}
start_apache() {
	local c=$TMP/$1/conf s=$TMP/$1/served m=/usr/lib/apache2/modules
	mkdir -p "$c/lock" && own "$c/lock"
	cat >"$c/httpd.conf" <<-EOF
		ServerRoot "$c"
		ServerName 127.0.0.1
		Listen 127.0.0.1:$2
		PidFile "$c/httpd.pid"
		DefaultRuntimeDir "$c"
		ErrorLog "$c/error.log"
		LogLevel warn
		LoadModule mpm_event_module $m/mod_mpm_event.so
		LoadModule authz_core_module $m/mod_authz_core.so
		LoadModule mime_module $m/mod_mime.so
		LoadModule dav_module $m/mod_dav.so
		LoadModule dav_fs_module $m/mod_dav_fs.so
		TypesConfig /etc/mime.types
		User $RUNAS
		Group $RUNAS_GROUP
		StartServers 2
		MinSpareThreads 25
		MaxSpareThreads 75
		ThreadLimit 64
		ThreadsPerChild 25
		MaxRequestWorkers 150
		KeepAlive On
		MaxKeepAliveRequests 0
		KeepAliveTimeout 5
		LimitRequestBody 0
		DavLockDB "$c/lock/DavLock"
		DocumentRoot "$s"
		<Directory />
		  AllowOverride None
		  Require all denied
		</Directory>
		<Directory "$s">
		  Dav On
		  DavDepthInfinity On
		  Options None
		  AllowOverride None
		  Require all granted
		</Directory>
	EOF
	/usr/sbin/apache2 -f "$c/httpd.conf" -DFOREGROUND >"$c/stdout.log" 2>&1 &
	PID[$1]=$!
	URL[$1]=http://127.0.0.1:$2/
}
start_lighttpd() {
	local c=$TMP/$1/conf
	mkdir -p "$c/run" "$TMP/$1/upload" && own "$c/run" "$TMP/$1/upload"
	cat >"$c/lighttpd.conf" <<-EOF
		server.document-root = "$TMP/$1/served"
		server.bind = "127.0.0.1"
		server.port = $2
		server.pid-file = "$c/run/lighttpd.pid"
		server.errorlog = "$c/run/error.log"
		server.username = "$RUNAS"
		server.groupname = "$RUNAS_GROUP"
		server.modules = ( "mod_webdav" )
		server.upload-dirs = ( "$TMP/$1/upload" )
		server.max-keep-alive-requests = 1000000
		webdav.activate = "enable"
		webdav.is-readonly = "disable"
		webdav.sqlite-db-name = "$c/run/webdav.db"
		webdav.opts = ( "propfind-depth-infinity" => "enable" )
	EOF
	/usr/sbin/lighttpd -D -f "$c/lighttpd.conf" >"$c/stdout.log" 2>&1 &
	PID[$1]=$!
	URL[$1]=http://127.0.0.1:$2/
}
start_nginx() {
	local c=$TMP/$1/conf
	mkdir -p "$c/tmp" "$TMP/$1/body" && own "$c/tmp" "$TMP/$1/body"
	cat >"$c/nginx.conf" <<-EOF
		load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;
		daemon off;
		master_process on;
		worker_processes auto;
		user $RUNAS $RUNAS_GROUP;
		pid $c/nginx.pid;
		error_log $c/error.log warn;
		events { worker_connections 1024; }
		http {
		  access_log off;
		  include /etc/nginx/mime.types;
		  default_type application/octet-stream;
		  sendfile on;
		  tcp_nopush on;
		  keepalive_requests 1000000;
		  client_max_body_size 0;
		  client_body_temp_path $TMP/$1/body;
		  proxy_temp_path $c/tmp/proxy;
		  fastcgi_temp_path $c/tmp/fastcgi;
		  uwsgi_temp_path $c/tmp/uwsgi;
		  scgi_temp_path $c/tmp/scgi;
		  server {
		    listen 127.0.0.1:$2;
		    root $TMP/$1/served;
		    dav_methods PUT DELETE MKCOL COPY MOVE;
		    dav_ext_methods PROPFIND OPTIONS;
		    dav_access user:rw group:rw all:r;
		    create_full_put_path on;
		  }
		}
	EOF
	/usr/sbin/nginx -p "$c/" -c "$c/nginx.conf" -e "$c/error.log" >"$c/stdout.log" 2>&1 &
	PID[$1]=$!
	URL[$1]=http://127.0.0.1:$2/
}
start_rclone() {
	local c=$TMP/$1/conf
	: >"$c/rclone.conf"
	rclone serve webdav "$TMP/$1/served" --addr "127.0.0.1:$2" --config "$c/rclone.conf" --cache-dir "$c/cache" \
		--log-file "$c/rclone.log" >"$c/stdout.log" 2>&1 &
	PID[$1]=$!
	URL[$1]=http://127.0.0.1:$2/
}

# which workloads a server takes part in
supports() { # SERVER WORKLOAD
	case $1 in
	gohttp) [[ " get_4k get_1g put_4k put_1g " == *" $2 "* ]] ;;
	davd_fsync) [[ " put_4k put_1g " == *" $2 "* ]] ;;
	*) return 0 ;;
	esac
}

# ------------------------------------------------------------------ build, trees, start
T0=$(date +%s)
log "dir $TMP ($FSTYPE); servers: $SERVERS; $ROUNDS round(s), wrk ${DUR}s"
mkdir -p "$TMP/bin"
DAVD_SRC=cmd/davd
if [ -n "${DAVD_BIN:-}" ]; then
	cp "$DAVD_BIN" "$TMP/bin/davd" || exit 1
	DAVD_SRC="DAVD_BIN=$DAVD_BIN"
elif ! (cd "$REPO" && "$GO" build -o "$TMP/bin/davd" ./cmd/davd) >"$TMP/build.log" 2>&1; then
	# while store/bolt is unfinished: the throwaway dev server (same engine, in-memory props)
	if [ -d "$REPO/cmd/devsrv" ] && (cd "$REPO" && "$GO" build -o "$TMP/bin/devsrv" ./cmd/devsrv) >>"$TMP/build.log" 2>&1; then
		log "cmd/davd does not build; using cmd/devsrv (in-memory props, fsync off)"
		DAVD_SRC=cmd/devsrv
		printf '#!/bin/sh\n# davd flags -> devsrv flags\nr= l=\nwhile [ $# -gt 0 ]; do case $1 in -root) r=$2; shift ;; -listen) l=$2; shift ;; -state) shift ;; esac; shift; done\nexec "%s" -root "$r" -listen "$l"\n' \
			"$TMP/bin/devsrv" >"$TMP/bin/davd" && chmod +x "$TMP/bin/davd"
	else
		cat "$TMP/build.log" >&2
		log "cannot build davd"
		exit 1
	fi
fi
DAVD_REV=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null)$(cd "$REPO" && git diff --quiet HEAD -- . 2>/dev/null || echo "+dirty")
if has xnet || has gohttp; then
	(cd "$HERE" && GOFLAGS=-mod=mod "$GO" build -o "$TMP/bin/gosrv" ./gosrv) || { log "cannot build bench/gosrv"; exit 1; }
fi
(cd "$HERE" && "$GO" build -o "$TMP/bin/report" ./report) || { log "cannot build bench/report"; exit 1; }

log "generating the tree"
export BENCH_TEMPLATE=$TMP/template
"$HERE/davload.sh" --gen "$TMP/template" || exit 1
ORDER=()
i=0
for s in $SERVERS; do
	i=$((i + 1))
	declare -F "start_$s" >/dev/null || { log "unknown server $s"; continue; }
	mkdir -p "$TMP/$s/conf" "$TMP/$s/served"
	"$HERE/davload.sh" --gen "$TMP/$s/served" || exit 1
	own "$TMP/$s/served"
	"start_$s" "$s" $((PORT_BASE + i))
	PIDS+=("${PID[$s]}")
	DIR[$s]=$TMP/$s/served
	if up "${URL[$s]}" "${PID[$s]}"; then
		ORDER+=("$s")
		log "$s: pid ${PID[$s]}, ${URL[$s]}"
	else
		log "$s did not start:"
		tail -n 5 "$TMP/$s/conf/"*.log "$TMP/$s/conf/"*/*.log 2>/dev/null >&2
	fi
done
[ ${#ORDER[@]} -gt 0 ] || exit 1

# dead properties on bench/dead1k, through each server's PROPPATCH
: >"$TMP/raw.txt"
if [[ " $WORKLOADS " == *" pf_dead_1k "* ]]; then
	for s in "${ORDER[@]}"; do
		supports "$s" pf_dead_1k || continue
		"$HERE/davload.sh" "${URL[$s]}" "${DIR[$s]}" "$s" setup_dead | sed 's/^/0 /' | tee -a "$TMP/raw.txt" >&2
	done
fi

# ------------------------------------------------------------------ rounds
n=${#ORDER[@]}
k=0
for r in $(seq "$ROUNDS"); do
	for wl in $WORKLOADS; do
		k=$((k + 1))
		for ((j = 0; j < n; j++)); do
			s=${ORDER[$(((j + k) % n))]}
			supports "$s" "$wl" || continue
			log "round $r: $wl on $s"
			BENCH_PID=${PID[$s]} "$HERE/davload.sh" "${URL[$s]}" "${DIR[$s]}" "$s" "$wl" >"$TMP/cell.txt" &
			CHILD=$!
			wait "$CHILD"
			CHILD=""
			sed "s/^/$r /" "$TMP/cell.txt" >>"$TMP/raw.txt"
			grep -E ' (rps|mbps|time|status) ' "$TMP/cell.txt" | grep -v -E ' status 20[0-9] ' | sed 's/^/    /' >&2
		done
	done
done
for s in "${ORDER[@]}"; do
	kill -0 "${PID[$s]}" 2>/dev/null || log "WARNING: $s died during the run"
done
stop_servers

# ------------------------------------------------------------------ table
MACHINE="$(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(free -h | awk '/^Mem:/ { print $2 }') RAM, kernel $(uname -r)"
{
	echo "## $(date -u '+%Y-%m-%d %H:%M UTC'): davd $DAVD_REV ($DAVD_SRC) beside the anchors"
	echo
	echo "- machine: $MACHINE; \`free -h\`: $(free -h | awk '/^Mem:/ { printf "total %s, used %s, available %s", $2, $3, $7 }')"
	echo "- method: \`bench/run.sh -r $ROUNDS -d $DUR\`, wrk -t${BENCH_THREADS:-2} -c${BENCH_CONNS:-8} -d${DUR}s (mixed: -t8 -c8), curl for GET/PUT 1 GiB, COPY/MOVE/DELETE and Depth infinity; trees on $FSTYPE; servers interleaved per workload; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- servers: $(for s in "${ORDER[@]}"; do printf '%s ' "$s"; done)"
	echo
	"$TMP/bin/report" -servers "${ORDER[*]}" -rounds "$ROUNDS" <"$TMP/raw.txt"
	echo
	echo "Dead properties (PROPPATCH of 3 properties on each of 1,000 files, then counted in an allprop): $(awk '$4 == "with_dead" { printf "%s %s/3000; ", $2, $5 }' "$TMP/raw.txt")"
	echo
	echo "Wall time $(($(date +%s) - T0)) s."
} >"$TMP/table.md"
cat "$TMP/table.md"
if [ -n "$OUTDIR" ]; then
	mkdir -p "$OUTDIR" && cp "$TMP/raw.txt" "$TMP/table.md" "$OUTDIR/"
	for s in "${ORDER[@]}"; do tail -n 20 "$TMP/$s/conf/"*.log "$TMP/$s/conf/"*/*.log 2>/dev/null >"$OUTDIR/$s.log"; done
	log "results in $OUTDIR"
fi
if [ "$RESULTS" = 1 ]; then
	{
		echo "# davd benchmark results"
		echo
		echo "The latest full run of \`bench/run.sh\` (see README.md). Absolute figures depend on the machine and"
		echo "on what else runs on it; compare servers within one run, by their ratios."
		echo
		cat "$TMP/table.md"
	} >"$HERE/RESULTS.md"
	log "wrote bench/RESULTS.md"
fi
