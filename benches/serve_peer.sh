#!/usr/bin/env bash
# retainctl serve against the peer a team would write: a small Node server on Apple's own
# @apple/app-store-server-library (benches/peer/server.js, SignedDataVerifier), answering
# the same rule (any product -> one message) to the same signed realtime requests, on
# loopback only; beside it, in the same run, serve answering promotional offers (each answer
# signed), the previous main's binary (RETAINCTL_BASE) doing the same, and two serve
# replicas behind nginx reading one snapshot from S3 (moto's server). For each: fixed rates
# (default 1,000, 5,000 and 10,000 requests/s, open loop with oha) and its peak (closed loop, wrk);
# throughput, latency p50/p99/p99.9/max, non-200 answers, the server's CPU time per request
# and its peak RSS (VmHWM). Prints a markdown table (also in $OUT/results.md).
#
#   benches/serve_peer.sh            # about 12 minutes with the defaults
#   SECONDS_PER_RUN=5 RATES="1000" SERVERS="retainctl node" benches/serve_peer.sh   # a quick look
#
# Needs: node + npm (benches/peer: `npm ci`, done here when node_modules is missing), oha
# (`cargo install oha --locked`), wrk and nginx (`apt-get install -y wrk nginx-light`),
# curl, and for replicas-s3 moto's server in .venv (.ci/run installs it). Builds, through
# cargo, the serve_peer bench binary (the signer) and the release retainctl.
#
# Settings (environment):
#   SERVERS="retainctl retainctl-offer base base-offer node node-cluster replicas-s3"
#       retainctl: text answers; retainctl-offer: promotional offers; base, base-offer: the
#       same with $RETAINCTL_BASE (skipped when it is unset); node: the Node peer, one
#       process; node-cluster: node:cluster, $CLUSTER_WORKERS workers; replicas-s3: two
#       serve processes on s3://bench/snapshot.json behind nginx (round robin, keep-alive)
#   RATES="1000 5000 10000"  fixed rates, requests/s ("" for none); 10,000/s is 10x the Node peer's peak
#   PEAK=1                 also each server's peak (closed loop, $PEAK_CONNECTIONS connections)
#   SECONDS_PER_RUN=20     length of each measured run (at most 240: bodies live 5 minutes)
#   WARMUP_SECONDS=2       closed-loop warm-up before each run, not counted
#   FIXED_CONNECTIONS=50   connections at a fixed rate; PEAK_CONNECTIONS=64 at the peak
#   WRK_THREADS=1 OHA_THREADS=1   generator threads (the generator shares the 2 cores)
#   CLUSTER_WORKERS=2      node-cluster's worker processes
#   PIN=0                  1: server on CPU 0, generator on CPU 1 (taskset)
#   RETAINCTL=path         the retainctl binary (default target/release/retainctl)
#   RETAINCTL_BASE=path    the previous main's retainctl, for base and base-offer
#   SERVE_RUST_LOG=...     RUST_LOG for retainctl serve (default: unset, its own default)
#   OUT=dir                where results and logs go (default: a new folder in /tmp)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEER="$ROOT/benches/peer"
SERVERS=${SERVERS:-"retainctl retainctl-offer base base-offer node node-cluster replicas-s3"}
RATES=${RATES-"1000 5000 10000"}
PEAK=${PEAK:-1}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
WARMUP_SECONDS=${WARMUP_SECONDS:-2}
FIXED_CONNECTIONS=${FIXED_CONNECTIONS:-50}
PEAK_CONNECTIONS=${PEAK_CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-1}
OHA_THREADS=${OHA_THREADS:-1}
CLUSTER_WORKERS=${CLUSTER_WORKERS:-2}
PIN=${PIN:-0}
RETAINCTL=${RETAINCTL:-"$ROOT/target/release/retainctl"}
RETAINCTL_BASE=${RETAINCTL_BASE:-}
PY=${RETAINCTL_PYTHON:-"$ROOT/.venv/bin/python"}
MOTO="$(dirname "$PY")/moto_server"
OUT=${OUT:-$(mktemp -d /tmp/serve_peer.XXXXXX)}
mkdir -p "$OUT"

say() { printf '%s\n' "$*" >&2; }
die() { say "serve_peer.sh: $*"; exit 1; }

if [ "$SECONDS_PER_RUN" -gt 240 ]; then
  die "SECONDS_PER_RUN=$SECONDS_PER_RUN: a signed request is refused 5 minutes after signing; keep runs at 240 s or less"
fi

# ---- what is needed ---------------------------------------------------------------------
wanted() { [[ " $SERVERS " == *" $1 "* ]]; }
command -v curl >/dev/null || die "curl is needed"
command -v wrk >/dev/null || die "wrk is needed: apt-get update && apt-get install -y wrk"
if [ -n "$RATES" ]; then
  command -v oha >/dev/null || die "oha is needed for the fixed rates (an open loop): cargo install oha --locked"
fi
command -v node >/dev/null || die "node is needed (apt-get install -y nodejs npm)"
if wanted node || wanted node-cluster; then
  if [ ! -d "$PEER/node_modules/@apple/app-store-server-library" ]; then
    say "== npm ci in benches/peer"
    (cd "$PEER" && timeout 300 npm ci --no-audit --no-fund >&2) || die "npm ci failed"
  fi
fi
if wanted replicas-s3; then
  command -v nginx >/dev/null || die "replicas-s3 needs nginx: apt-get install -y nginx-light"
  [ -x "$MOTO" ] || die "replicas-s3 needs $MOTO (.ci/run installs moto[server] into .venv)"
fi
if [ -z "$RETAINCTL_BASE" ] && { wanted base || wanted base-offer; }; then
  say "note: RETAINCTL_BASE is not set: base and base-offer are left out"
  SERVERS=$(tr ' ' '\n' <<<"$SERVERS" | grep -vx 'base\|base-offer' | tr '\n' ' ')
fi
say "== cargo bench --bench serve_peer --no-run (the signer)"
SIGNER_EXE=$(cd "$ROOT" && cargo bench --bench serve_peer --no-run --message-format=json-render-diagnostics \
  | "$PY" -c '
import json, sys
last = ""
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "serve_peer" and m.get("executable"):
        last = m["executable"]
print(last)') || die "building the serve_peer bench failed"
[ -x "$SIGNER_EXE" ] || die "no serve_peer executable found in cargo's output"
if [ ! -x "$RETAINCTL" ]; then
  say "== cargo build --release --bin retainctl"
  (cd "$ROOT" && cargo build --release --bin retainctl >&2) || die "building retainctl failed"
fi

# ---- helpers ----------------------------------------------------------------------------
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

server_cpu=() gen_cpu=()
if [ "$PIN" = 1 ]; then
  command -v taskset >/dev/null || die "PIN=1 needs taskset"
  server_cpu=(taskset -c 0) gen_cpu=(taskset -c 1)
fi

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# A folder of fresh signed requests (bodies live 5 minutes: one folder a run).
make_bodies() {
  local dir=$1
  rm -rf "$dir"
  "$SIGNER_EXE" --out "$dir" --bodies 1000 >/dev/null
}

# launch LOG CMD... : starts CMD (stdout LOG.out, stderr LOG.err), waits for its
# "listening on URL" line; sets LAUNCHED_PID and LAUNCHED_URL.
launch() {
  local log=$1
  shift
  : >"$log.out"
  "$@" >"$log.out" 2>"$log.err" &
  LAUNCHED_PID=$!
  PIDS+=("$LAUNCHED_PID")
  local i
  for i in $(seq 1 150); do
    if grep -q '^listening on ' "$log.out" 2>/dev/null; then
      LAUNCHED_URL=$(sed -n '1s/^listening on //p' "$log.out")
      return 0
    fi
    kill -0 "$LAUNCHED_PID" 2>/dev/null || break
    sleep 0.1
  done
  say "$* did not start; its stderr:"
  tail -20 "$log.err" >&2 || true
  return 1
}

# retainctl serve BINARY with the folder's SNAPSHOT (a file or s3:// URL), the offer key's
# variables from the folder's offer.env when the snapshot has offer rules.
launch_serve() {
  local bin=$1 dir=$2 snapshot=$3 log=$4
  local vars=()
  [ -f "$dir/offer.env" ] && mapfile -t vars <"$dir/offer.env"
  local rust_log=(-u RUST_LOG)
  [ -n "${SERVE_RUST_LOG:-}" ] && rust_log=("RUST_LOG=$SERVE_RUST_LOG")
  launch "$log" env "${rust_log[@]}" "${vars[@]}" "${S3_VARS[@]}" "${server_cpu[@]}" "$bin" serve \
    --listen 127.0.0.1:0 --snapshot "$snapshot" --trust-root "$dir/root.pem"
}

# A free loopback port.
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# moto's S3 server with bucket "bench" holding the folder's snapshot; sets S3_VARS.
start_s3() {
  local dir=$1 log=$2 port
  port=$(free_port)
  "$MOTO" -H 127.0.0.1 -p "$port" >"$log.moto" 2>&1 &
  AUX_PIDS+=("$!")
  PIDS+=("$!")
  S3_VARS=("AWS_ENDPOINT_URL=http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1)
  local i
  for i in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
  done
  curl -sf -X PUT "http://127.0.0.1:$port/bench" >/dev/null || die "moto: cannot create the bucket"
  curl -sf -T "$dir/snapshot.json" "http://127.0.0.1:$port/bench/snapshot.json" >/dev/null \
    || die "moto: cannot put the snapshot"
}

# nginx on a free port, round-robin over UPSTREAM host:port pairs; sets LAUNCHED_URL.
start_balancer() {
  local log=$1
  shift
  local port conf servers="" u
  port=$(free_port)
  for u in "$@"; do servers+="    server $u;"$'\n'; done
  conf="$log.nginx.conf"
  cat >"$conf" <<CONF
worker_processes 1;
daemon off;
pid $log.nginx.pid;
error_log $log.nginx.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream serve {
$servers    keepalive 64;
  }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://serve;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
  "${server_cpu[@]}" nginx -c "$conf" -p "$(dirname "$log")" >"$log.nginx.out" 2>&1 &
  SERVER_PIDS+=("$!")
  PIDS+=("$!")
  local i
  for i in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 0.1
  done
  LAUNCHED_URL="http://127.0.0.1:$port"
}

# start_server KIND DIR LOGPREFIX -> sets SERVER_PIDS (what is measured), SERVER_URL
start_server() {
  local kind=$1 dir=$2 log=$3
  SERVER_PIDS=() AUX_PIDS=() S3_VARS=()
  case "$kind" in
    retainctl | base)
      local bin=$RETAINCTL
      [ "$kind" = base ] && bin=$RETAINCTL_BASE
      rm -f "$dir/offer.env"
      launch_serve "$bin" "$dir" "$dir/snapshot.json" "$log" || return 1
      ;;
    retainctl-offer | base-offer)
      local bin=$RETAINCTL
      [ "$kind" = base-offer ] && bin=$RETAINCTL_BASE
      launch_serve "$bin" "$dir" "$dir/snapshot-offer.json" "$log" || return 1
      ;;
    replicas-s3)
      rm -f "$dir/offer.env"
      start_s3 "$dir" "$log"
      local upstream=() r
      for r in 1 2; do
        launch_serve "$RETAINCTL" "$dir" s3://bench/snapshot.json "$log.replica$r" || return 1
        SERVER_PIDS+=("$LAUNCHED_PID")
        upstream+=("${LAUNCHED_URL#http://}")
        local i
        for i in $(seq 1 100); do
          [ "$(curl -s -o /dev/null -w '%{http_code}' "$LAUNCHED_URL/readyz")" = 200 ] && break
          sleep 0.1
        done
      done
      start_balancer "$log" "${upstream[@]}"
      SERVER_URL="$LAUNCHED_URL/apple/realtime"
      return 0
      ;;
    node | node-cluster)
      local workers=1
      [ "$kind" = node-cluster ] && workers=$CLUSTER_WORKERS
      launch "$log" "${server_cpu[@]}" node "$PEER/server.js" --port 0 --root "$dir/root.pem" \
        --message-id "$(cat "$dir/message_id.txt")" --bundle-id com.bench.app \
        --app-apple-id 1234567890 --environment Sandbox --workers "$workers" || return 1
      ;;
    *) die "unknown server $kind" ;;
  esac
  SERVER_PIDS=("$LAUNCHED_PID")
  SERVER_URL="$LAUNCHED_URL/apple/realtime"
}

# The server's processes: those started and their children (node:cluster's workers,
# nginx's worker).
server_pids() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    echo "$pid"
    ps -o pid= --ppid "$pid" 2>/dev/null | tr -d ' ' || true
  done
}
# sum_over_server FILE AWK: the sum over the server's processes of what AWK prints from
# /proc/PID/FILE (0 for a process gone).
sum_over_server() {
  local total=0 pid v
  for pid in $(server_pids); do
    v=$(awk "$2" "/proc/$pid/$1" 2>/dev/null || echo 0)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
# Peak RSS (VmHWM, KiB) and CPU time (utime+stime, clock ticks) of the server's processes.
peak_rss_kib() { sum_over_server status '/^VmHWM:/ {print $2}'; }
cpu_ticks() { sum_over_server stat '{print $14 + $15}'; }

stop_server() {
  local pid i
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for i in $(seq 1 120); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}

post_status() { # URL FILE -> "STATUS BODY"
  curl -s -m 5 -o "$OUT/.answer" -w '%{http_code}' -X POST -H 'content-type: application/json' \
    --data-binary @"$2" "$1" || true
}

# The answers before load: the good body gets the message, every bad one a refusal.
check_answers() {
  local url=$1 dir=$2 want status failures=""
  want=$(tr -d '\n' <"$dir/message_id.txt")
  status=$(post_status "$url" "$dir/body.json")
  if [ "$status" != 200 ] || ! grep -q "\"messageIdentifier\":\"$want\"" "$OUT/.answer"; then
    failures+=" body:$status"
  fi
  local f expected
  for f in tampered:401 untrusted:401 stale:401 future:401 other_app:403; do
    expected=${f#*:}
    status=$(post_status "$url" "$dir/${f%%:*}.json")
    [ "$status" = "$expected" ] || failures+=" ${f%%:*}:$status(want $expected)"
  done
  echo "${failures:- ok}"
}

# One measured run. Prints a TSV row:
# requests rps p50_ms p99_ms p999_ms max_ms errors generator
measure() {
  local url=$1 dir=$2 rate=$3 tag=$4
  local raw="$OUT/$tag.load"
  if [ "$rate" = peak ]; then
    timeout $((SECONDS_PER_RUN + 30)) "${gen_cpu[@]}" wrk -t"$WRK_THREADS" -c"$PEAK_CONNECTIONS" \
      -d"${SECONDS_PER_RUN}s" --timeout 10s -s "$PEER/post.lua" "$url" -- "$dir/bodies.txt" >"$raw" 2>&1 || true
    wrk_row "$raw" "wrk closed loop, ${PEAK_CONNECTIONS} conn"
  else
    timeout $((SECONDS_PER_RUN + 30)) "${gen_cpu[@]}" oha --no-tui --output-format json \
      -z "${SECONDS_PER_RUN}s" -q "$rate" --latency-correction -c "$FIXED_CONNECTIONS" \
      --worker-threads "$OHA_THREADS" -t 10s -m POST -H 'content-type: application/json' \
      -Z "$dir/bodies.txt" "$url" >"$raw" 2>"$raw.err" || true
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const p = r.latencyPercentiles || {};
      const ms = (s) => (s == null ? "-" : (s * 1000).toFixed(2));
      const codes = r.statusCodeDistribution || {};
      const ok = codes["200"] || 0;
      const all = Object.values(codes).reduce((a, b) => a + b, 0);
      // requests still in flight when the run ends are aborted by oha, not by the server
      const errs = Object.entries(r.errorDistribution || {})
        .filter(([k]) => !/deadline/i.test(k)).reduce((a, [, n]) => a + n, 0);
      const bad = all - ok + errs;
      console.log([all, (ok / r.summary.total).toFixed(0), ms(p.p50), ms(p.p99), ms(p["p99.9"]),
        ms(r.summary.slowest), bad, process.argv[2]].join("\t"));
    ' "$raw" "oha open loop -q $rate, ${FIXED_CONNECTIONS} conn" 2>/dev/null \
      || printf '0\t-\t-\t-\t-\t-\toha failed\toha\n'
  fi
}

wrk_row() {
  local raw=$1 label=$2 line
  line=$(grep '^RESULT ' "$raw" | tail -1 || true)
  if [ -z "$line" ]; then
    printf '0\t-\t-\t-\t-\t-\twrk failed\t%s\n' "$label"
    return
  fi
  node -e '
    const kv = Object.fromEntries(process.argv[1].split(" ").slice(1).map((x) => x.split("=")));
    const ms = (us) => (Number(us) / 1000).toFixed(2);
    const errs = ["non2xx", "connect_err", "read_err", "write_err", "timeout_err"]
      .reduce((a, k) => a + Number(kv[k]), 0);
    console.log([kv.requests, Number(kv.rps).toFixed(0), ms(kv.p50_us), ms(kv.p99_us), ms(kv.p999_us),
      ms(kv.max_us), errs, process.argv[2]].join("\t"));
  ' "$line" "$label"
}

# ---- the runs ---------------------------------------------------------------------------
LOADS=()
for r in $RATES; do LOADS+=("$r"); done
[ "$PEAK" = 1 ] && LOADS+=(peak)

ROWS="$OUT/rows.tsv"
: >"$ROWS"
say "== results and logs in $OUT (pin: $PIN)"
say "   machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(loadavg)"
for server in $SERVERS; do
  for load in "${LOADS[@]}"; do
    tag="$server-$load"
    dir="$OUT/$tag.bodies"
    make_bodies "$dir"
    if ! start_server "$server" "$dir" "$OUT/$tag.server"; then
      printf '%s\t%s\t0\t-\t-\t-\t-\t-\t-\tdid not start\t-\t-\t-\t%s\n' "$server" "$load" "$(loadavg)" >>"$ROWS"
      continue
    fi
    checks=$(check_answers "$SERVER_URL" "$dir")
    say "-- $server, $load: $SERVER_URL (pids ${SERVER_PIDS[*]}), answers:$checks, load average $(loadavg)"
    if [[ "$checks" == *body:* ]]; then
      stop_server
      printf '%s\t%s\t0\t-\t-\t-\t-\t-\t-\tno answer:%s\t-\t-\t-\t%s\n' "$server" "$load" "$checks" "$(loadavg)" >>"$ROWS"
      continue
    fi
    if [ "$WARMUP_SECONDS" -gt 0 ]; then
      timeout $((WARMUP_SECONDS + 20)) "${gen_cpu[@]}" wrk -t1 -c8 -d"${WARMUP_SECONDS}s" -s "$PEER/post.lua" \
        "$SERVER_URL" -- "$dir/bodies.txt" >"$OUT/$tag.warmup" 2>&1 || true
    fi
    before_load=$(loadavg)
    ticks0=$(cpu_ticks)
    row=$(measure "$SERVER_URL" "$dir" "$load" "$tag")
    ticks1=$(cpu_ticks)
    rss=$(peak_rss_kib)
    nproc_server=$(server_pids | wc -l)
    stop_server
    requests=$(cut -f1 <<<"$row")
    cpu_us="-"
    if [ "${requests:-0}" -gt 0 ] 2>/dev/null; then
      cpu_us=$(( (ticks1 - ticks0) * 1000000 / $(getconf CLK_TCK) / requests ))
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$load" "$row" "$cpu_us" \
      "$(awk -v k="$rss" 'BEGIN { printf "%.0f", k / 1024 }')" "$nproc_server" "$before_load" >>"$ROWS"
    say "   $(tail -1 "$ROWS")"
  done
done

# ---- the table --------------------------------------------------------------------------
{
  echo "serve_peer: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average at the end $(loadavg); ${SECONDS_PER_RUN} s a run after ${WARMUP_SECONDS} s warm-up; loopback; server and generator share the cores (pin: $PIN)"
  echo
  echo "| server | offered | generator | requests | answers/s | p50 ms | p99 ms | p99.9 ms | max ms | non-200 or errors | server CPU µs/request | peak RSS MiB | load avg before |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  while IFS=$'\t' read -r server load requests rps p50 p99 p999 max errs gen cpu rss procs lavg; do
    case "$server" in
      retainctl) name="retainctl serve, text" ;;
      retainctl-offer) name="retainctl serve, promotional offer" ;;
      base) name="previous main, text" ;;
      base-offer) name="previous main, promotional offer" ;;
      replicas-s3) name="2 serve replicas (S3 snapshot) behind nginx" ;;
      node) name="Node peer, 1 process" ;;
      node-cluster) name="Node peer, node:cluster ${CLUSTER_WORKERS} workers" ;;
      *) name=$server ;;
    esac
    [ "$load" = peak ] && offered="peak" || offered="$load/s"
    [ "${procs:-1}" -gt 1 ] 2>/dev/null && [ "$rss" != "-" ] && rss="$rss (sum of $procs processes)"
    echo "| $name | $offered | $gen | $requests | $rps | $p50 | $p99 | $p999 | $max | $errs | $cpu | $rss | $lavg |"
  done <"$ROWS"
} | tee "$OUT/results.md"
