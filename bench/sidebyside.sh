#!/usr/bin/env bash
# sidebyside.sh - where each server spends its CPU, davd beside the anchors, row by row.
#
#   bench/sidebyside.sh [-d SECONDS] [-w "ROWS"] [-s "ANCHORS"] [-o OUTDIR] [-t BASEDIR] [-k]
#
# For each row (default: get_4k put_4k get_1g put_1g move) and each server (davd at its defaults,
# fsync and access log on, plus the anchors, default "lighttpd nginx"), one server at a time:
# runs the row's load while `perf record -e cpu-clock -g` samples that server's processes, reads
# the server's CPU time and context switches from /proc before and after, and sorts every sample
# by its stack into one of the categories below. Prints, per row, a table of CPU µs per request
# (per MiB for the 1 GiB rows) and how it splits, one column per server; writes OUTDIR/ROW.SERVER.
# {perf.data,txt} (the top symbols) and OUTDIR/tables.md.
#
# Rows: get_4k, put_4k (wrk -t2 -c8 -d SECONDS, the shared harness's lua scripts and tree),
# get_1g, put_1g (3 curl transfers of the 1 GiB file), move (MOVE of the 1,000-file collection
# back and forth, 60 times, one curl and so one new connection each, as the harness's move_1k;
# and 600 fresh-connection OPTIONS, which is what a MOVE costs beyond the rename).
# -k keeps the work directory. Ports 127.0.0.1:18430.. (BENCH_PORT_BASE). Needs perf, wrk,
# curl, lighttpd and nginx (each anchor that is missing is dropped). Everything started is
# stopped by PID; every wrk and curl is bounded.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SHARED_LUA=${SHARED_LUA:-$REPO/../shared/bench/lua}
[ -d "$SHARED_LUA" ] || SHARED_LUA=$HERE/lua
DUR=6
ROWS="get_4k put_4k get_1g put_1g move"
ANCHORS="lighttpd nginx"
OUT=""
BASEDIR=/dev/shm
KEEP=0
while getopts "d:w:s:o:t:k" opt; do
	case $opt in
	d) DUR=$OPTARG ;;
	w) ROWS=$OPTARG ;;
	s) ANCHORS=$OPTARG ;;
	o) OUT=$OPTARG ;;
	t) BASEDIR=$OPTARG ;;
	k) KEEP=1 ;;
	*) sed -n '2,20p' "$0" >&2; exit 2 ;;
	esac
done
command -v perf >/dev/null || { echo "sidebyside: perf not found" >&2; exit 2; }
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
PORT0=${BENCH_PORT_BASE:-18430}
TMP=$(mktemp -d -p "$BASEDIR" davd-sbs.XXXXXX) || exit 1
chmod 755 "$TMP" # nginx's workers run as nobody
OUT=${OUT:-$TMP/out}
mkdir -p "$OUT"
SPID=""
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	[ "$KEEP" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${DAVD_BIN:-}" ]; then
	cp "$DAVD_BIN" "$TMP/davd" || exit 1
else
	(cd "$REPO" && "$GO" build -o "$TMP/davd" ./cmd/davd) || exit 1
fi
echo "[sbs] tree" >&2
BENCH_BIG_MB=1024 bash "$HERE/davload.sh" --gen "$TMP/tree" >&2 || exit 1
chown -R nobody:nogroup "$TMP/tree" 2>/dev/null
head -c $((1024 * 1048576)) /dev/urandom >"$TMP/up.bin"

# start SERVER DIR PORT: starts it serving DIR (which holds bench/), sets SPID and PIDS (the
# processes to sample and to count: nginx's workers, not its master).
start() {
	local s=$1 d=$2 port=$3 c="$TMP/conf-$1"
	mkdir -p "$c"
	case $s in
	davd)
		"$TMP/davd" -root "$d" -listen "127.0.0.1:$port" -state "$c/state" >"$c/log" 2>&1 &
		SPID=$!
		;;
	lighttpd)
		cat >"$c/lighttpd.conf" <<-EOF
			server.document-root = "$d"
			server.bind = "127.0.0.1"
			server.port = $port
			server.pid-file = "$c/lighttpd.pid"
			server.errorlog = "$c/error.log"
			server.modules = ( "mod_webdav" )
			server.upload-dirs = ( "$c" )
			server.max-keep-alive-requests = 1000000
			webdav.activate = "enable"
			webdav.is-readonly = "disable"
			webdav.sqlite-db-name = "$c/webdav.db"
		EOF
		/usr/sbin/lighttpd -D -f "$c/lighttpd.conf" >"$c/log" 2>&1 &
		SPID=$!
		;;
	nginx)
		mkdir -p "$c/body" && chown nobody:nogroup "$c/body"
		cat >"$c/nginx.conf" <<-EOF
			load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;
			daemon off;
			master_process on;
			worker_processes auto;
			user nobody nogroup;
			pid $c/nginx.pid;
			error_log $c/error.log warn;
			events { worker_connections 1024; }
			http {
			  access_log off;
			  default_type application/octet-stream;
			  sendfile on;
			  tcp_nopush on;
			  keepalive_requests 1000000;
			  client_max_body_size 0;
			  client_body_temp_path $c/body;
			  server {
			    listen 127.0.0.1:$port;
			    root $d;
			    dav_methods PUT DELETE MKCOL COPY MOVE;
			    dav_ext_methods PROPFIND OPTIONS;
			    dav_access user:rw group:rw all:r;
			    create_full_put_path on;
			  }
			}
		EOF
		/usr/sbin/nginx -p "$c/" -c "$c/nginx.conf" -e "$c/error.log" >"$c/log" 2>&1 &
		SPID=$!
		;;
	esac
	local i
	for i in $(seq 100); do curl -s -o /dev/null -m 1 "http://127.0.0.1:$port/" && break; sleep 0.1; done
	PIDS=$SPID
	if [ "$s" = nginx ]; then
		PIDS=$(pgrep -P "$SPID" | paste -sd, -)
	fi
}

stop() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	SPID=""
}

# cpu_ns PIDS: the CPU time of all the processes' threads, in ns (schedstat). ctx PIDS: their
# threads' context switches, voluntary and not.
cpu_ns() {
	local p
	for p in ${1//,/ }; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{s += $1} END{printf "%.0f\n", s}'
}
ctx() {
	local p
	for p in ${1//,/ }; do cat /proc/"$p"/task/*/status 2>/dev/null; done |
		awk '/^(voluntary|nonvoluntary)_ctxt_switches/{s += $2} END{print s + 0}'
}

# load ROW URL DIR: runs the row's load; prints "UNITS UNIT DETAIL" (units done, what a unit is).
load() {
	local row=$1 u=$2 d=$3 out i n=0 t
	case $row in
	get_4k)
		out=$(DAVBENCH_LUA_DIR="$SHARED_LUA" timeout $((DUR + 30)) wrk -t2 -c8 -d"${DUR}s" --timeout 10s \
			-s "$SHARED_LUA/get.lua" "$u/bench/small/4k.bin" 2>&1)
		awk '/^WRK requests /{r=$3} /^WRK lat_p99_ms/{p=$3} /^WRK rps/{s=$3} /^WRK err_(status|sock)/{e+=$3}
			END{printf "%d req rps=%.0f_p99_ms=%s%s\n", r, s, p, e ? "_FAILED=" e : ""}' <<<"$out"
		;;
	put_4k)
		col=put-$(date +%s%N) # new names in every run
		curl -s -o /dev/null -m 10 -X MKCOL "$u/bench/$col/"
		out=$(DAVBENCH_LUA_DIR="$SHARED_LUA" DAV_PUT_PREFIX="/bench/$col/f" DAV_PUT_SIZE=4096 \
			timeout $((DUR + 30)) wrk -t2 -c8 -d"${DUR}s" --timeout 10s -s "$SHARED_LUA/put.lua" "$u/bench/$col/" 2>&1)
		awk '/^WRK requests /{r=$3} /^WRK lat_p99_ms/{p=$3} /^WRK rps/{s=$3} /^WRK err_(status|sock)/{e+=$3}
			END{printf "%d req rps=%.0f_p99_ms=%s%s\n", r, s, p, e ? "_FAILED=" e : ""}' <<<"$out"
		;;
	get_1g)
		for i in 1 2 3; do
			curl -s -o /dev/null -m 120 -w '%{http_code} %{size_download} %{speed_download}\n' "$u/bench/big/big.bin"
		done | awk '$1 != 200 || $2 != 1073741824 {bad++; next} {n += $2; s = s sprintf("%.0f/", $3 / 1e6)}
			END{printf "%d MiB MB/s=%s%s\n", n / 1048576, s, bad ? "_FAILED=" bad : ""}'
		;;
	put_1g)
		for i in 1 2 3; do
			curl -s -o /dev/null -m 120 -H 'Expect:' -H 'Content-Type: application/octet-stream' -T "$TMP/up.bin" \
				-w '%{http_code} %{size_upload} %{speed_upload} ' "$u/bench/put1g-$i.bin"
			stat -c %s "$d/bench/put1g-$i.bin" 2>/dev/null || echo 0
			curl -s -o /dev/null -m 30 -X DELETE "$u/bench/put1g-$i.bin"
		done | awk '$1 !~ /^2/ || $4 != 1073741824 {bad++; next} {n += $2; s = s sprintf("%.0f/", $3 / 1e6)}
			END{printf "%d MiB MB/s=%s%s\n", n / 1048576, s, bad ? "_FAILED=" bad : ""}'
		;;
	move)
		# MOVE: one new connection each; the time is curl's time_total, as the harness's move_1k.
		for i in $(seq 30); do
			curl -s -o /dev/null -m 30 -X MOVE -H "Destination: $u/bench/c1k-moved/" -H 'Overwrite: F' \
				-w '%{time_total} %{http_code}\n' "$u/bench/c1k/"
			curl -s -o /dev/null -m 30 -X MOVE -H "Destination: $u/bench/c1k/" -H 'Overwrite: F' \
				-w '%{time_total} %{http_code}\n' "$u/bench/c1k-moved/"
		done | sort -n | awk '$2 !~ /^2/ {bad++; next} {v[++n] = $1 * 1000}
			END{printf "%d req median_ms=%.2f%s\n", n, v[int((n + 1) / 2)], bad ? "_FAILED=" bad : ""}'
		;;
	fresh)
		python3 - "$u" <<-'EOF'
			import socket, sys, time, urllib.parse
			u = urllib.parse.urlparse(sys.argv[1])
			req = b"OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
			ts = []
			bad = 0
			for i in range(600):
			    t0 = time.perf_counter()
			    s = socket.create_connection((u.hostname, u.port), timeout=5)
			    s.sendall(req)
			    if not s.recv(65536).startswith(b"HTTP/1.1 200"):
			        bad += 1
			    ts.append((time.perf_counter() - t0) * 1e6)
			    while s.recv(65536):
			        pass
			    s.close()
			ts.sort()
			print("%d req median_us=%.0f%s" % (len(ts), ts[len(ts) // 2], "_FAILED=%d" % bad if bad else ""))
		EOF
		;;
	esac
}

# classify PERF.DATA: prints "CATEGORY PERCENT" for every category, by the stack of each sample.
classify() {
	perf script -i "$1" -F ip,sym,dso 2>/dev/null | awk '
	function flush(   c) {
		if (n == 0) return
		c = cat()
		count[c]++; total++
		n = 0; stack = ""
	}
	function has(re) { return stack ~ re }
	function cat() {
		if (has(" runtime\\.(gcBgMarkWorker|gcDrain|gcAssistAlloc|bgsweep|bgscavenge|markroot|scanobject|sweepone)")) return "go_gc"
		if (has(" runtime\\.sysmon")) return "go_sysmon"
		if (has(" runtime\\.(schedule|findRunnable|park_m|netpoll|mcall|stealWork|wakep|startm|stopm|mPark|notesleep|notewakeup|futexsleep|futexwakeup|sysmon|gopark|goready|ready|injectglist|handoffp|entersyscall|exitsyscall|goexit0|gosched|preemptM|retake|usleep|osyield|newproc|newproc1)")) return "go_sched"
		if (has(" runtime\\.(mallocgc|newobject|makeslice|growslice|memclrNoHeapPointers|rawstring|concatstring|makemap|mapassign|newarray)")) return "go_alloc"
		if (kern) {
			if (has(" (tcp_sendmsg|do_sendfile|do_splice|splice_|__sys_sendto|sock_sendmsg|tcp_push|tcp_write_xmit)")) return "k_send"
			if (has(" (tcp_recvmsg|sock_recvmsg|__sys_recvfrom|sock_read_iter)")) return "k_recv"
			if (has(" (inet_accept|__sys_accept|do_accept|inet_csk_accept|tcp_v4_connect|tcp_conn_request|tcp_rcv_state_process)")) return "k_conn"
			if (has(" (ep_poll|do_epoll|__x64_sys_epoll|futex|__schedule|schedule|do_nanosleep|hrtimer_nanosleep|sched_yield|finish_task_switch|try_to_wake_up)")) return "k_wait_wake"
			if (has(" (vfs_|shmem_|do_sys_open|do_filp_open|path_openat|do_renameat2|do_unlinkat|vfs_fsync|do_fsync|ext4_|filemap_|do_statx|vfs_statx|iterate_dir|do_mkdirat|ksys_write|ksys_read|__x64_sys_close|__fput|ksys_pwrite|ksys_pread|do_readv|do_writev|__x64_sys_openat|__x64_sys_fchmod|utimes|do_utimes)")) return "k_fs"
			if (has(" (net_rx_action|__netif_receive_skb|process_backlog|tcp_v4_rcv|ip_rcv|__dev_queue_xmit|napi_|do_softirq|handle_softirqs)")) return "k_net_softirq"
			if (has(" (page_fault|exc_page_fault|do_user_addr_fault|handle_mm_fault)")) return "k_fault"
			return "k_other"
		}
		if (leaf ~ /^(runtime\.|internal\/runtime|aeshash|memeqbody|indexbytebody|cmpbody)/) return "go_runtime_other"
		return "user_code"
	}
	/^[ \t]*$/ { flush(); next }
	{
		if (n == 0) { kern = ($0 ~ /kernel\.kallsyms|\[unknown\] \(\[kernel/); leaf = $2 }
		n++; stack = stack " " $2
	}
	END {
		flush()
		split("user_code go_runtime_other go_alloc go_gc go_sysmon go_sched k_send k_recv k_net_softirq k_conn k_fs k_wait_wake k_fault k_other", order, " ")
		for (i = 1; i in order; i++) printf "%s %.2f\n", order[i], total ? 100 * count[order[i]] / total : 0
		printf "samples %d\n", total
	}'
}

LABELS="user_code go_runtime_other go_alloc go_gc go_sysmon go_sched k_send k_recv k_net_softirq k_conn k_fs k_wait_wake k_fault k_other"
describe() {
	case $1 in
	user_code) echo "server's own code (user space, not the Go runtime)" ;;
	go_runtime_other) echo "Go runtime, other (memmove, maps, hashing, …)" ;;
	go_alloc) echo "Go allocation (mallocgc and friends)" ;;
	go_gc) echo "Go garbage collector" ;;
	go_sysmon) echo "Go sysmon (the runtime's monitor thread: preemption, netpoll, timers)" ;;
	go_sched) echo "Go scheduler and netpoller (park, wake, find work, syscall entry/exit)" ;;
	k_send) echo "kernel: TCP send (write, sendfile, splice)" ;;
	k_recv) echo "kernel: TCP receive (read)" ;;
	k_net_softirq) echo "kernel: loopback delivery (softirq)" ;;
	k_conn) echo "kernel: accept and connection setup" ;;
	k_fs) echo "kernel: files (open, write, rename, fsync, stat, close)" ;;
	k_wait_wake) echo "kernel: epoll, futex, scheduling, sleep" ;;
	k_fault) echo "kernel: page faults" ;;
	k_other) echo "kernel: other" ;;
	esac
}

: >"$OUT/tables.md"
n=0
for row in $ROWS; do
	rows=$row
	[ "$row" = move ] && rows="move fresh"
	for r in $rows; do
		servers="davd"
		for a in $ANCHORS; do
			case $a in
			lighttpd) [ -x /usr/sbin/lighttpd ] && servers="$servers lighttpd" ;;
			nginx) [ -x /usr/sbin/nginx ] && servers="$servers nginx" ;;
			esac
		done
		for s in $servers; do
			n=$((n + 1))
			port=$((PORT0 + n))
			d="$TMP/served-$s"
			[ -d "$d" ] || cp -al "$TMP/tree" "$d"
			start "$s" "$d" "$port"
			load "$r" "http://127.0.0.1:$port" "$d" >/dev/null # warm-up: caches, connections, heap
			c0=$(cpu_ns "$PIDS") x0=$(ctx "$PIDS")
			perf record -q -e cpu-clock -F 1999 -g -p "$PIDS" -o "$OUT/$r.$s.perf.data" >/dev/null 2>&1 &
			PP=$!
			sleep 0.3
			res=$(load "$r" "http://127.0.0.1:$port" "$d")
			kill -INT "$PP" 2>/dev/null
			wait "$PP" 2>/dev/null
			c1=$(cpu_ns "$PIDS") x1=$(ctx "$PIDS")
			stop
			read -r units unit detail <<<"$res"
			cpu_us=$(awk -v c=$((c1 - c0)) -v u="$units" 'BEGIN{printf "%.2f", u ? c / 1e3 / u : 0}')
			cs=$(awk -v x=$((x1 - x0)) -v u="$units" 'BEGIN{printf "%.2f", u ? x / u : 0}')
			classify "$OUT/$r.$s.perf.data" >"$OUT/$r.$s.cat"
			perf report -i "$OUT/$r.$s.perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
				grep -v '^#' | grep '%' | head -40 >"$OUT/$r.$s.txt"
			echo "$s $units $unit $detail cpu_us=$cpu_us ctxsw=$cs" >>"$OUT/$r.summary"
			echo "[sbs] $r $s: $units $unit $detail, $cpu_us µs CPU per $unit, $cs context switches per $unit" >&2
		done
		# The table: µs of server CPU per unit, split by category, one column per server.
		{
			echo
			echo "### $r"
			echo
			printf '| | %s |\n' "$(awk '{print $1}' "$OUT/$r.summary" | paste -sd'|' - | sed 's/|/ | /g')"
			printf '|---|%s\n' "$(awk '{printf "---|"}' "$OUT/$r.summary")"
			printf '| result | %s |\n' "$(awk '{print $4}' "$OUT/$r.summary" | paste -sd'|' - | sed 's/|/ | /g;s/_/ /g')"
			unit=$(awk 'NR==1{print $3}' "$OUT/$r.summary")
			printf '| server CPU, µs per %s | %s |\n' "$unit" "$(awk '{sub("cpu_us=", "", $5); print $5}' "$OUT/$r.summary" | paste -sd'|' - | sed 's/|/ | /g')"
			printf '| context switches per %s | %s |\n' "$unit" "$(awk '{sub("ctxsw=", "", $6); print $6}' "$OUT/$r.summary" | paste -sd'|' - | sed 's/|/ | /g')"
			for l in $LABELS; do
				line=""
				any=0
				while read -r s _ _ _ cpu _; do
					cpu=${cpu#cpu_us=}
					pct=$(awk -v l="$l" '$1==l{print $2}' "$OUT/$r.$s.cat")
					v=$(awk -v p="${pct:-0}" -v c="$cpu" 'BEGIN{printf "%.2f (%.0f%%)", p * c / 100, p}')
					awk -v p="${pct:-0}" 'BEGIN{exit !(p >= 0.5)}' && any=1
					line="$line | $v"
				done <"$OUT/$r.summary"
				[ "$any" = 1 ] && echo "| $(describe "$l") $line |"
			done
			printf '| samples | %s |\n' "$(for s in $(awk '{print $1}' "$OUT/$r.summary"); do awk '$1=="samples"{print $2}' "$OUT/$r.$s.cat"; done | paste -sd'|' - | sed 's/|/ | /g')"
		} >>"$OUT/tables.md"
	done
done
cat "$OUT/tables.md"
echo "[sbs] results in $OUT" >&2
