#!/usr/bin/env bash
# cluster.sh - cluster mode beside single-node davd, on the same workloads (issue 14).
#
#   bench/cluster.sh [-d SECONDS] [-r ROUNDS] [-p PROFDIR]
#
# Starts, on 127.0.0.1 only: one etcd member (Debian's etcd-server; data on tmpfs), versitygw
# (the S3 server of the tests, built and cached by scripts/test.sh), single-node davd at its
# default flags, three davd nodes in cluster mode and nginx balancing them round-robin. Then
# runs with wrk, ROUNDS times each (default 3, median reported): PROPFIND Depth 1 (4 props and
# allprop) of a 1,000-file collection, GET 4 KiB, PUT 4 KiB of new names, LOCK+UNLOCK, against
# single-node davd, one cluster node, and the three through nginx. Prints a Markdown table of
# medians and ratios to single-node davd, and the etcd requests seen per HTTP request. With
# -p, records a CPU profile of cluster node 1 during each workload into PROFDIR.
# Every process it started is stopped by PID at exit.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
DUR=5
ROUNDS=3
PROF=""
while getopts "d:r:p:" opt; do
	case $opt in
	d) DUR=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	p) PROF=$OPTARG ;;
	*) sed -n '2,14p' "$0" >&2; exit 2 ;;
	esac
done
for c in etcd wrk nginx curl go; do
	command -v $c >/dev/null || { echo "cluster.sh: $c is missing (./scripts/test.sh installs it)" >&2; exit 1; }
done
V=$(sed -n 's/^const VersityGWVersion = "\(.*\)"$/\1/p' "$REPO/internal/clustertest/clustertest.go")
GW="${XDG_CACHE_HOME:-$HOME/.cache}/davd/versitygw-$V/versitygw"
[ -x "$GW" ] || { echo "cluster.sh: $GW missing: run ./scripts/test.sh once (it builds versitygw)" >&2; exit 1; }

TMP=$(mktemp -d /dev/shm/davd-cluster-bench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
log() { echo "cluster.sh: $*" >&2; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # URL [METHOD]
	for _ in $(seq 100); do
		curl -s -o /dev/null -X "${2:-OPTIONS}" "$1" && return 0
		sleep 0.1
	done
	log "$1 does not answer"
	for f in "$TMP"/*.log "$TMP"/nginx/error.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -5 "$f" >&2; }; done
	exit 1
}

log "building davd"
(cd "$REPO" && go build -o "$TMP/davd" ./cmd/davd) || exit 1

EP=$(port); PP=$(port)
etcd --name b0 --data-dir "$TMP/etcd" --listen-client-urls "http://127.0.0.1:$EP" --advertise-client-urls "http://127.0.0.1:$EP" \
	--listen-peer-urls "http://127.0.0.1:$PP" --initial-advertise-peer-urls "http://127.0.0.1:$PP" \
	--initial-cluster "b0=http://127.0.0.1:$PP" --log-level error >"$TMP/etcd.log" 2>&1 &
PIDS+=($!)
S3P=$(port)
mkdir -p "$TMP/gw" "$TMP/meta"
ROOT_ACCESS_KEY=benchkey ROOT_SECRET_KEY=benchsecret0123456789 "$GW" --port "127.0.0.1:$S3P" --quiet posix --sidecar "$TMP/meta" "$TMP/gw" >"$TMP/gw.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$EP/health" GET
wait_http "http://127.0.0.1:$S3P/" GET
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret0123456789 AWS_REGION=us-east-1

SP=$(port)
"$TMP/davd" -root "$TMP/single" -state "$TMP/single-state" -listen "127.0.0.1:$SP" >"$TMP/single.log" 2>&1 &
PIDS+=($!)
printf '[cluster]\ncreate_bucket = true\n' >"$TMP/cluster.toml"
NODES=()
for i in 1 2 3; do
	NP=$(port)
	pprof=()
	[ "$i" = 1 ] && { PPROF=$(port); pprof=(-pprof "127.0.0.1:$PPROF"); }
	"$TMP/davd" -config "$TMP/cluster.toml" -listen "127.0.0.1:$NP" -etcd "http://127.0.0.1:$EP" \
		-s3-endpoint "http://127.0.0.1:$S3P" -s3-bucket bench "${pprof[@]}" >"$TMP/node$i.log" 2>&1 &
	PIDS+=($!)
	NODES+=("127.0.0.1:$NP")
done
LP=$(port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
pid $TMP/nginx/nginx.pid; error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body; proxy_temp_path $TMP/nginx/proxy; fastcgi_temp_path $TMP/nginx/f; uwsgi_temp_path $TMP/nginx/u; scgi_temp_path $TMP/nginx/s;
  upstream davd { $(for n in "${NODES[@]}"; do printf 'server %s; ' "$n"; done) keepalive 32; }
  server {
    listen 127.0.0.1:$LP;
    client_max_body_size 0;
    location / { proxy_pass http://davd; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$http_host; proxy_request_buffering off; proxy_buffering off; }
  }
}
CONF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" &
PIDS+=($!)
wait_http "http://127.0.0.1:$SP/"
for n in "${NODES[@]}"; do wait_http "http://$n/"; done
wait_http "http://127.0.0.1:$LP/"

SINGLE="http://127.0.0.1:$SP"
NODE1="http://${NODES[0]}"
LB="http://127.0.0.1:$LP"
head -c 4096 /dev/urandom >"$TMP/4k.bin"
for u in "$SINGLE" "$NODE1"; do
	log "populating $u: /p1000/ (1,000 files of 4 KiB), /get.bin, /put/, /lock/"
	curl -s -o /dev/null -X MKCOL "$u/p1000/"
	curl -s -o /dev/null -X MKCOL "$u/put/"
	curl -s -o /dev/null -X MKCOL "$u/lock/"
	curl -s -o /dev/null -T "$TMP/4k.bin" "$u/get.bin"
	curl -s -o /dev/null --parallel --parallel-max 16 -T "$TMP/4k.bin" "$u/p1000/f[0001-1000].bin"
	got=$(curl -s -X PROPFIND -H 'Depth: 1' "$u/p1000/" | grep -o '<D:response>' | wc -l)
	[ "$got" = 1001 ] || { log "$u/p1000/ lists $got responses, want 1001"; exit 1; }
done

etcd_requests() { # the etcd server's count of gRPC requests handled so far
	curl -s "http://127.0.0.1:$EP/metrics" | awk '/^grpc_server_handled_total/ {s += $2} END {printf "%d", s}'
}

run() { # NAME URL PATH LUA [ENV...] -> prints "rps etcd_per_request"
	local name=$1 url=$2 path=$3 lua=$4
	shift 4
	local before after out rps reqs
	before=$(etcd_requests)
	# lock.lua keeps one token per thread: one connection per thread, as many threads
	local tc=(-t2 -c8)
	[ "$lua" = lock.lua ] && tc=(-t8 -c8)
	out=$(env BENCH_LUA="$HERE/lua" "$@" wrk "${tc[@]}" -d"${DUR}s" -s "$HERE/lua/$lua" "$url$path" 2>&1)
	after=$(etcd_requests)
	rps=$(awk '/^WRK rps/ {print $3}' <<<"$out")
	reqs=$(awk '/^WRK requests/ {print $3}' <<<"$out")
	errs=$(awk '/^WRK err_status/ {print $3}' <<<"$out")
	[ "${errs:-0}" = 0 ] || log "$name $url$path: $errs non-2xx answers"
	echo "$rps $(awk -v a="$after" -v b="$before" -v r="$reqs" 'BEGIN { if (r > 0) printf "%.1f", (a - b) / r; else print "-" }')"
}

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

WORKLOADS=(
	"pf4|PROPFIND D1 4 props, 1,000 files|/p1000/|propfind.lua|BENCH_BODY=props"
	"pfall|PROPFIND D1 allprop, 1,000 files|/p1000/|propfind.lua|BENCH_BODY=allprop"
	"get|GET 4 KiB|/get.bin|get.lua|X=1"
	"put|PUT 4 KiB, new names|/|put.lua|BENCH_PUT_SIZE=4096"
	"lock|LOCK + UNLOCK|/|lock.lua|X=1"
)
TARGETS=("single|$SINGLE" "node|$NODE1" "three|$LB")
declare -A RPS PER
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r key title path lua envs <<<"$w"
	for t in "${TARGETS[@]}"; do
		IFS='|' read -r tname turl <<<"$t"
		vals=() pers=()
		for r in $(seq "$ROUNDS"); do
			extra=()
			[ "$key" = put ] && extra=(BENCH_PUT_PREFIX="/put/$tname-r$r-")
			[ "$key" = lock ] && extra=(BENCH_LOCK_PREFIX="/lock/$tname-r$r-")
			if [ -n "$PROF" ] && [ "$tname" = node ] && [ "$r" = 1 ]; then
				mkdir -p "$PROF"
				curl -s -o "$PROF/$key.cpu.pb.gz" "http://127.0.0.1:$PPROF/debug/pprof/profile?seconds=$((DUR - 1))" &
				cp=$!
			fi
			read -r rps per < <(run "$key" "$turl" "$path" "$lua" $envs "${extra[@]}")
			[ -n "$PROF" ] && [ "$tname" = node ] && [ "$r" = 1 ] && wait "$cp"
			vals+=("$rps") pers+=("$per")
		done
		RPS[$key,$tname]=$(printf '%s\n' "${vals[@]}" | median)
		PER[$key,$tname]=$(printf '%s\n' "${pers[@]}" | median)
		log "$title via $tname: ${RPS[$key,$tname]} req/s, ${PER[$key,$tname]} etcd requests each (rounds: ${vals[*]})"
	done
done

echo "## $(date -u '+%Y-%m-%d %H:%M UTC'): cluster mode, davd $(cd "$REPO" && git rev-parse --short HEAD)"
echo
echo "- machine: $(nproc) CPUs, $(free -h | awk '/^Mem/ {print $2}') RAM; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- method: \`bench/cluster.sh -r $ROUNDS -d $DUR\`: wrk -t2 -c8 -d${DUR}s (LOCK + UNLOCK: -t8 -c8), median of $ROUNDS; one etcd member and versitygw on tmpfs, all on this machine; \"three nodes\" through nginx round-robin (upstream keepalive)"
echo "- etcd/req: the etcd server's gRPC requests handled during the run divided by the HTTP requests served"
echo
echo "| workload | single-node davd | one cluster node | three nodes via nginx | node / single | three / one | etcd/req (node) |"
echo "|---|---|---|---|---|---|---|"
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r key title _ <<<"$w"
	s=${RPS[$key,single]} n=${RPS[$key,node]} t=${RPS[$key,three]}
	awk -v title="$title" -v s="$s" -v n="$n" -v t="$t" -v p="${PER[$key,node]}" \
		'BEGIN { printf "| %s | %.0f | %.0f | %.0f | %.2f | %.2f | %s |\n", title, s, n, t, (s > 0 ? n / s : 0), (n > 0 ? t / n : 0), p }'
done
