#!/usr/bin/env bash
# summarize.sh RESULTS - medians over repetitions of bench.sh's results file, per configuration,
# GOMAXPROCS (or nginx workers) and workload: req/s, user and sys CPU µs per request (with
# [min..max]), their total, context switches and Go allocations per request.
set -u
[ $# = 1 ] && [ -f "$1" ] || { echo "usage: $0 RESULTS" >&2; exit 2; }
awk '{k=$1" "$2" "$3; n[k]++; i=n[k]; rps[k,i]=$6; u[k,i]=$8; s[k,i]=$10; cs[k,i]=$12; al[k,i]=$14; p99[k,i]=$24; t[k,i]=$8+$10; keys[k]=1}
function med(arr,k,m,   a,j,x,y,tmp){ for(j=1;j<=m;j++) a[j]=arr[k,j]; for(x=1;x<=m;x++) for(y=x+1;y<=m;y++) if (a[y]<a[x]) {tmp=a[x];a[x]=a[y];a[y]=tmp}; return (m%2)?a[(m+1)/2]:(a[m/2]+a[m/2+1])/2 }
function rng(arr,k,m,  j,lo,hi){ lo=1e18;hi=-1; for(j=1;j<=m;j++){ if(arr[k,j]<lo)lo=arr[k,j]; if(arr[k,j]>hi)hi=arr[k,j]}; return sprintf("%g..%g",lo,hi) }
END { for (k in keys) { m=n[k]; printf "%-16s n=%d rps %6.0f [%s] user %5.1f [%s] sys %5.1f [%s] total %5.1f cs %4.2f allocs %4.1f p99_ms %.2f\n", k, m, med(rps,k,m), rng(rps,k,m), med(u,k,m), rng(u,k,m), med(s,k,m), rng(s,k,m), med(t,k,m), med(cs,k,m), med(al,k,m), med(p99,k,m) } }' "$1" | sort -k3,3 -k1,1 -k2,2
