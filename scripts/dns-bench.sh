#!/usr/bin/env bash
# dns-bench.sh: builderd's DNS against NSD and dnsmasq, side by side (issue 9), on loopback only.
#   scripts/dns-bench.sh [SERVERS...]     e.g. builderd1 builderd2 nsd1 nsd2 dnsmasq
# builderdN: scripts/dns-serve.ts with dns.workers = N-1 (the primary also reads the shared socket);
# dgramN: the same without the udpbatch addon (node:dgram);
# nsdN: NSD with server-count N. 1-process servers run on CPU0; N>1 on CPUs 0-1. dnsperf on CPU1.
# Zone: the harness's 1,000-host zone (gen-dns-data.py). Rounds alternate the servers (A B A B).
# Knobs: ROUNDS=3 DURATION=10 CLIENTS=10 MAXOUT=100 OUT=/tmp/dns-bench.
# Prints one line per server: name median qps (runs). Every process started is killed by PID.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-10}"; CLIENTS="${CLIENTS:-10}"; MAXOUT="${MAXOUT:-100}"
OUT="${OUT:-/tmp/dns-bench}"; PORT="${PORT:-15411}"
(( DURATION <= 60 && ROUNDS <= 5 )) || { echo "DURATION<=60 and ROUNDS<=5" >&2; exit 1; }
SERVERS=("$@"); [[ ${#SERVERS[@]} -gt 0 ]] || SERVERS=(builderd1 nsd1 builderd2 nsd2 dnsmasq)
mkdir -p "$OUT"; ZONES="$OUT/zones"
[[ -f "$ZONES/queries.txt" ]] || python3 "${HARNESS:-/work/shared/harness}/gen-dns-data.py" "$ZONES" >/dev/null
PID=""
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

cpus() { [[ "$1" -gt 1 ]] && echo 0,1 || echo 0; }
start() { # start NAME -> PID
  local s="$1" w="$OUT/$1"; mkdir -p "$w"
  case "$s" in
    builderd*|dgram*) local n="${s#builderd}"; n="${n#dgram}"
      local batch=1; [[ "$s" == dgram* ]] && batch=0
      BUILDERD_DNS_BATCH=$batch DNS_WORKERS=$((n-1)) taskset -c "$(cpus "$n")" node ${NODE_OPTS:---import tsx} "$ROOT/${SERVE_JS:-scripts/dns-serve.ts}" 127.0.0.1 "$PORT" \
        "$ZONES/lab.example.zone" "$ZONES/99.10.in-addr.arpa.zone" >"$w/log" 2>&1 & PID=$! ;;
    nsd*) local n="${s#nsd}"
      cat >"$w/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$PORT
  port: $PORT
  server-count: $n
  username: ""
  chroot: ""
  zonesdir: "$ZONES"
  pidfile: "$w/nsd.pid"
  database: ""
  xfrdfile: "$w/xfrd.state"
  zonelistfile: "$w/zone.list"
  xfrdir: "$w"
  logfile: "$w/nsd.log"
  do-ip6: no
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: lab.example
  zonefile: lab.example.zone
zone:
  name: 99.10.in-addr.arpa
  zonefile: 99.10.in-addr.arpa.zone
CONF
      taskset -c "$(cpus "$n")" nsd -d -c "$w/nsd.conf" >"$w/log" 2>&1 & PID=$! ;;
    dnsmasq)
      cat >"$w/dnsmasq.conf" <<CONF
port=$PORT
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
no-poll
user=root
group=root
pid-file=$w/dnsmasq.pid
log-facility=$w/dnsmasq.log
auth-server=ns1.lab.example,127.0.0.1
auth-sec-servers=ns2.lab.example
auth-zone=lab.example,10.99.0.0/16,2001:db8:99::/64
auth-soa=2024010101,hostmaster.lab.example,3600,600,86400
auth-ttl=300
local-ttl=300
auth-peer=127.0.0.1
conf-file=$ZONES/dnsmasq-records.conf
CONF
      taskset -c 0 dnsmasq --keep-in-foreground --conf-file="$w/dnsmasq.conf" >"$w/log" 2>&1 & PID=$! ;;
    *) echo "unknown server $s" >&2; exit 1 ;;
  esac
  for _ in $(seq 1 100); do
    # builderd: wait until its workers serve too (dns-serve prints "ready" after workersReady()).
    [[ "$s" == builderd* || "$s" == dgram* ]] && ! grep -q "ready on" "$w/log" && { sleep 0.2; continue; }
    timeout 2 dig @127.0.0.1 -p "$PORT" +short +time=1 +tries=1 host0042.lab.example A 2>/dev/null | grep -q 10.99.1.42 && return 0
    sleep 0.2
  done
  echo "$s did not answer" >&2; tail -5 "$w/log" >&2; return 1
}
declare -A RUNS CPUS
HZ=$(getconf CLK_TCK)
tree() { local p="$1" c; echo "$p"; for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree "$c"; done; }
ticks() { # CPU ticks (user + system) of a process and its descendants (NSD's servers, builderd's workers)
  local t=0 p f
  for p in $(tree "$1"); do f=$(cut -d')' -f2- /proc/"$p"/stat 2>/dev/null) || continue; t=$((t + $(awk '{print $12 + $13}' <<<"$f"))); done
  echo "$t"
}
for r in $(seq 1 "$ROUNDS"); do
  for s in "${SERVERS[@]}"; do
    start "$s" || { kill "$PID"; wait "$PID" 2>/dev/null; PID=""; continue; }
    sleep 1
    t0=$(ticks "$PID")
    q=$(timeout $((DURATION+20)) taskset -c 1 dnsperf -s 127.0.0.1 -p "$PORT" -d "$ZONES/queries.txt" -l "$DURATION" \
          -c "$CLIENTS" -q "$MAXOUT" -t 2 2>&1 | tee "$OUT/$s/dnsperf.$r" | awk '/Queries per second:/{printf "%.0f", $4}')
    t1=$(ticks "$PID")
    kill "$PID"; wait "$PID" 2>/dev/null; PID=""
    n=$(awk '/Queries completed:/{print $3}' "$OUT/$s/dnsperf.$r")
    # Server CPU per answered query: steadier than qps on a shared machine (other load takes turns, not cycles per query).
    us=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="${n:-0}" 'BEGIN{printf "%.2f", (n > 0 ? d / hz * 1e6 / n : 0)}')
    echo "round $r $s ${q:-0} qps, ${us} CPU-us/query" >&2
    RUNS[$s]="${RUNS[$s]:-} ${q:-0}"
    CPUS[$s]="${CPUS[$s]:-} $us"
  done
done
for s in "${SERVERS[@]}"; do
  med=$(tr ' ' '\n' <<<"${RUNS[$s]:-}" | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  cpu=$(tr ' ' '\n' <<<"${CPUS[$s]:-}" | grep . | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  echo "$s $med qps (${RUNS[$s]:-}) cpu_us_per_query=$cpu (${CPUS[$s]:-})"
done
# Ratios: of the medians, and the median of the per-round ratios (each pair measured minutes apart at most).
median() { grep . | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
ratio() { # ratio A B
  local a="$1" b="$2"; [[ -n "${RUNS[$a]:-}" && -n "${RUNS[$b]:-}" ]] || return 0
  local ma mb mr
  ma=$(tr ' ' '\n' <<<"${RUNS[$a]}" | median); mb=$(tr ' ' '\n' <<<"${RUNS[$b]}" | median)
  mr=$(paste -d' ' <(tr ' ' '\n' <<<"${RUNS[$a]}" | grep .) <(tr ' ' '\n' <<<"${RUNS[$b]}" | grep .) | awk '{printf "%.4f\n", ($2 > 0 ? $1 / $2 : 0)}' | median)
  awk -v a="$a" -v b="$b" -v ma="$ma" -v mb="$mb" -v mr="$mr" 'BEGIN{printf "%s/%s %.2f (median of round ratios %.2f)\n", a, b, (mb > 0 ? ma / mb : 0), mr}'
}
for pair in "builderd1 nsd1" "builderd2 nsd2" "builderd3 nsd2" "builderd1 dnsmasq" "builderd2 dnsmasq" "builderd3 dnsmasq" "dgram1 nsd1"; do
  # shellcheck disable=SC2086
  ratio $pair
done
